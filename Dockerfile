# The Python the tests run on (README front matter and scripts/dev.sh name the same; check_python.py holds them to it).
FROM python:3.11-slim

# Non-root, as Spaces and most hosts expect.
RUN useradd --create-home --uid 1000 glassbox
WORKDIR /home/glassbox/app

COPY requirements.txt requirements-ray.txt ./
RUN pip install --no-cache-dir -r requirements.txt
# Optional extras: --build-arg EXTRAS=requirements-ray.txt for the Ray Serve deployment (deploy/).
ARG EXTRAS=""
RUN if [ -n "$EXTRAS" ]; then pip install --no-cache-dir -r "$EXTRAS"; fi

COPY --chown=glassbox:glassbox . .
USER glassbox

ENV GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    PYTHONUNBUFFERED=1
EXPOSE 7860
CMD ["python", "app.py"]
