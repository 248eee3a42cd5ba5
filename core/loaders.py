"""Builders: a ModelSpec plus a weights file -> a torch module. Imported only when a model loads."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.models import ModelSpec


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Safetensors, or a pickle read with weights_only=True: no checkpoint can run code here."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path.name} is not a plain state dict of tensors.")
    return obj


def remap_by_order(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a checkpoint's keys to the architecture's when both list the same tensors in the same order."""
    if len(state) != len(target):
        raise ValueError(f"checkpoint has {len(state)} tensors, the architecture {len(target)}")
    out = {}
    for (src_key, tensor), (dst_key, ref) in zip(state.items(), target.items()):
        if tensor.shape != ref.shape:
            raise ValueError(f"{src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(ref.shape)}")
        out[dst_key] = tensor
    return out


def build_arch(arch: str, **kwargs) -> nn.Module:
    lib, _, name = arch.partition(":")
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False, **kwargs)
    if lib == "torchvision":
        import torchvision

        return getattr(torchvision.models, name)(weights=None)
    raise ValueError(f"unknown architecture family {lib!r}")


def disable_fused_attention(module: nn.Module) -> nn.Module:
    """timm's fused attention (scaled_dot_product_attention) returns no weights; demos that
    look inside attention need the explicit softmax path. Same numbers, a little slower."""
    for m in module.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
    return module


class ImageClassifier(nn.Module):
    """Takes pixels in [0, 1]: normalisation lives inside the model.

    Attacks and attributions then work in the space the learner sees (a pixel moves
    by 1/255, not by 1/(255*std)), and no caller can forget to normalise.
    """

    def __init__(self, backbone: nn.Module, mean, std):
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) in [0, 1] -> (B, classes)
        return self.backbone((x - self.mean) / self.std)


def build_image_classifier(spec: ModelSpec, path: Path) -> ImageClassifier:
    backbone = build_arch(spec.arch, **spec.arch_kwargs)
    state = read_state_dict(path)
    if spec.key_map == "order":
        state = remap_by_order(state, backbone.state_dict())
    backbone.load_state_dict(state, strict=True)
    disable_fused_attention(backbone)
    return ImageClassifier(backbone, spec.config.mean, spec.config.std).eval()


class TextModel(nn.Module):
    """A transformers encoder or decoder plus its tokenizer, ready to return attention weights."""

    def __init__(self, model: nn.Module, tokenizer, causal: bool):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.causal = causal

    def forward(self, **enc):
        return self.model(**enc, output_attentions=True)


def build_text_model(spec: ModelSpec, path: Path) -> TextModel:
    """path: the weights file (its folder holds config and tokenizer) or the folder itself."""
    from transformers import AutoModel, AutoTokenizer

    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    # safetensors only: a pickled pytorch_model.bin is never loaded. Eager attention: the
    # fused (sdpa/flash) kernels do not return attention weights.
    model = AutoModel.from_pretrained(folder, attn_implementation="eager", use_safetensors=True,
                                      local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return TextModel(model.eval(), tokenizer, spec.config.causal).eval()



class DiffusionModel(nn.Module):
    """A diffusers UNet2DModel plus the noise schedule it was trained with.

    null_label: the class id that means "no label" (classifier-free guidance's unconditional
    pass), or None for an unconditional model such as google/ddpm-cifar10-32.
    """

    def __init__(self, unet: nn.Module, scheduler_config: dict, null_label: int | None):
        super().__init__()
        self.unet = unet
        self.scheduler_config = dict(scheduler_config)
        self.null_label = null_label

    @property
    def size(self) -> int:
        return int(self.unet.config.sample_size)

    @property
    def channels(self) -> int:
        return int(self.unet.config.in_channels)

    @property
    def num_classes(self) -> int:
        return 0 if self.null_label is None else int(self.null_label)


def build_diffusion_model(spec: ModelSpec, path: Path) -> DiffusionModel:
    """path: the UNet's weights file in a diffusers folder (config.json, scheduler_config.json beside it)."""
    import json

    from diffusers import UNet2DModel

    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    # safetensors only: a pickled diffusion_pytorch_model.bin is never loaded.
    unet = UNet2DModel.from_pretrained(folder, use_safetensors=True, local_files_only=True,
                                      low_cpu_mem_usage=False).eval()  # no accelerate needed
    scheduler_config = json.loads((folder / "scheduler_config.json").read_text())
    classes = unet.config.num_class_embeds
    # Our convention: the last class embedding is the "no label" one (trained with label dropout).
    null_label = int(classes) - 1 if classes else None
    return DiffusionModel(unet, scheduler_config, null_label).eval()


class ZeroShotModel(nn.Module):
    """What the CLIP demo needs of any zero-shot model: unit vectors for images and for texts in one space,
    and the logit scale that turns cosines into a softmax over labels."""

    logit_scale: float = 100.0

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) in [0, 1] -> (B, D) unit rows
        raise NotImplementedError

    def encode_text(self, texts: list[str]) -> torch.Tensor:  # n strings -> (n, D) unit rows
        raise NotImplementedError


class ConSE(ZeroShotModel):
    """Convex combination of semantic embeddings (Norouzi et al. 2014), the offline stand-in for CLIP.

    The image goes through an ImageNet classifier; its top-T classes' probabilities mix the text
    embeddings of those class names into one vector in the text model's space. A typed label is embedded
    by the same text model, so the two can be compared by cosine. Nothing here was trained contrastively:
    the image side can only say what 1,000 ImageNet classes can say.
    """

    def __init__(self, classifier: nn.Module, text_model: nn.Module, tokenizer, class_names, top: int,
                 logit_scale: float):
        super().__init__()
        self.classifier = classifier
        self.text_model = text_model
        self.tokenizer = tokenizer
        self.class_names = list(class_names)
        self.top = int(top)
        self.logit_scale = float(logit_scale)
        self._class_emb: torch.Tensor | None = None  # (1000, D), built on first use

    @torch.no_grad()
    def encode_text(self, texts: list[str], batch: int = 128) -> torch.Tensor:
        """Sentence embeddings as all-MiniLM-L6-v2 defines them: the mean of the last hidden states over
        real tokens, then unit length."""
        out = []
        device = next(self.text_model.parameters()).device
        for i in range(0, len(texts), batch):
            enc = self.tokenizer(texts[i:i + batch], padding=True, truncation=True, max_length=64,
                                 return_tensors="pt").to(device)
            hidden = self.text_model(**enc).last_hidden_state  # (b, T, D)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, T, 1)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)  # (b, D)
            out.append(torch.nn.functional.normalize(mean.float(), dim=-1))
        return torch.cat(out)  # (n, D)

    def class_embeddings(self) -> torch.Tensor:
        if self._class_emb is None:
            self._class_emb = self.encode_text([f"a photo of a {n}." for n in self.class_names])  # (1000, D)
        return self._class_emb

    @torch.no_grad()
    def class_probs(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 1000)
        return self.classifier(x).softmax(-1)

    @torch.no_grad()
    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        probs = self.class_probs(x)  # (B, 1000)
        p, idx = probs.topk(self.top, dim=-1)  # (B, T) each
        emb = self.class_embeddings()[idx]  # (B, T, D)
        mixed = (p.unsqueeze(-1) * emb).sum(1) / p.sum(-1, keepdim=True)  # (B, D): the convex combination
        return torch.nn.functional.normalize(mixed, dim=-1)


def build_conse(spec: ModelSpec, path: Path) -> ConSE:
    """Assembles its own copies of the two bundled models (path is unused: ConSE has no weights)."""
    from core import models

    c = spec.config
    text = models.build_module(c.text)  # core.loaders.TextModel
    return ConSE(models.build_module(c.classifier), text.model, text.tokenizer, models.labels(spec.labels),
                 c.top, c.logit_scale).eval()


class OpenCLIP(ZeroShotModel):
    """An open_clip model behind the same two calls as ConSE (pixels in [0, 1]; normalisation inside)."""

    def __init__(self, model: nn.Module, tokenizer, mean, std, size: int):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.size = int(size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.logit_scale = float(model.logit_scale.detach().exp().item())  # learned in training (100 for OpenAI's)

    @torch.no_grad()
    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bicubic", align_corners=False)
        return torch.nn.functional.normalize(self.model.encode_image((x.clamp(0, 1) - self.mean) / self.std).float(),
                                             dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        device = self.mean.device
        return torch.nn.functional.normalize(self.model.encode_text(self.tokenizer(texts).to(device)).float(), dim=-1)


def build_open_clip(spec: ModelSpec, path: Path) -> OpenCLIP:
    """open_clip's architecture `spec.arch` ("open_clip:ViT-B-32-quickgelu") with the weights at path
    (safetensors, or a pickle read with weights_only=True). Nothing is downloaded: pretrained=None."""
    import open_clip  # optional at run time: without it the hub model falls back to ConSE, saying so

    name = spec.arch.partition(":")[2]
    model = open_clip.create_model(name, pretrained=None)
    model.load_state_dict(read_state_dict(path), strict=True)
    cfg = open_clip.get_model_preprocess_cfg(model)
    size = cfg.get("size", 224)
    size = size[0] if isinstance(size, (tuple, list)) else size
    return OpenCLIP(model.eval(), open_clip.get_tokenizer(name), cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
                    cfg.get("std", (0.26862954, 0.26130258, 0.27577711)), size).eval()


# --- Segment Anything ------------------------------------------------------------------------------------

# The three published SAM sizes, told apart by the image encoder's width (their checkpoints carry no config).
SAM_PUBLISHED = {768: ("vit_b", 12, 12, (2, 5, 8, 11)), 1024: ("vit_l", 24, 16, (5, 11, 17, 23)),
                 1280: ("vit_h", 32, 16, (7, 15, 23, 31))}


def sam_config(**overrides) -> dict:
    """Every size setting of a SAM built from segment_anything's modules: ViT-B's by default."""
    cfg = {"img_size": 1024, "patch_size": 16, "embed_dim": 768, "depth": 12, "num_heads": 12,
           "global_attn_indexes": [2, 5, 8, 11], "window_size": 14, "use_rel_pos": True, "out_chans": 256,
           "mask_in_chans": 16, "decoder_depth": 2, "decoder_mlp_dim": 2048, "decoder_heads": 8, "iou_hidden": 256,
           "pixel_mean": [123.675, 116.28, 103.53], "pixel_std": [58.395, 57.12, 57.375]}
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"unknown SAM settings {sorted(unknown)}")
    return {**cfg, **overrides}


def sam_from_config(cfg: dict) -> nn.Module:
    """A segment_anything `Sam` (random weights) of the given sizes: the published ones or a toy one."""
    from functools import partial

    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    side = cfg["img_size"] // cfg["patch_size"]  # the image embedding is side x side (64 for SAM)
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=cfg["img_size"], patch_size=cfg["patch_size"], embed_dim=cfg["embed_dim"], depth=cfg["depth"],
            num_heads=cfg["num_heads"], mlp_ratio=4, out_chans=cfg["out_chans"], qkv_bias=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=cfg["use_rel_pos"],
            window_size=cfg["window_size"], global_attn_indexes=tuple(cfg["global_attn_indexes"])),
        prompt_encoder=PromptEncoder(embed_dim=cfg["out_chans"], image_embedding_size=(side, side),
                                     input_image_size=(cfg["img_size"], cfg["img_size"]),
                                     mask_in_chans=cfg["mask_in_chans"]),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=cfg["decoder_depth"], embedding_dim=cfg["out_chans"],
                                          mlp_dim=cfg["decoder_mlp_dim"], num_heads=cfg["decoder_heads"]),
            transformer_dim=cfg["out_chans"], iou_head_depth=3, iou_head_hidden_dim=cfg["iou_hidden"]),
        pixel_mean=cfg["pixel_mean"], pixel_std=cfg["pixel_std"]).eval()


def save_sam(model: nn.Module, cfg: dict, path: Path) -> None:
    """A SAM as safetensors with its size settings in the file's metadata (how build_sam reads it back)."""
    import json

    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"sam_config": json.dumps(cfg)})


def read_sam_config(path: Path, state: dict[str, torch.Tensor]) -> dict:
    """The sizes of the SAM in a checkpoint: from its metadata (ours), else from the encoder width (Meta's)."""
    import json

    if Path(path).suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "sam_config" in meta:
            return sam_config(**json.loads(meta["sam_config"]))
    width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    if width not in SAM_PUBLISHED:
        raise ValueError(f"a SAM image encoder {width} wide is none of ViT-B/L/H and the file names no sizes")
    _, depth, heads, global_idx = SAM_PUBLISHED[width]
    return sam_config(embed_dim=width, depth=depth, num_heads=heads, global_attn_indexes=list(global_idx))


class SamModel(nn.Module):
    """A segment_anything Sam behind the SAM page's two calls: encode once per image, decode per prompt.

    The math is SamPredictor's (resize the longest side, pad, normalise; map prompts the same way; upsample
    the low-resolution masks back to the image), but the image embedding is returned to the caller instead
    of kept inside a shared predictor, so many users' images can be cached side by side.
    """

    kind = "sam"

    def __init__(self, sam: nn.Module, cfg: dict):
        super().__init__()
        self.sam = sam
        self.cfg = dict(cfg)

    @property
    def embedding_shape(self) -> tuple[int, int, int]:
        side = self.cfg["img_size"] // self.cfg["patch_size"]
        return self.cfg["out_chans"], side, side

    @torch.no_grad()
    def encode(self, rgb) -> dict:
        """HWC uint8 RGB -> {"features": (1, C, s, s), "original_size", "input_size"}: the heavy part."""
        from segment_anything.utils.transforms import ResizeLongestSide

        transform = ResizeLongestSide(self.sam.image_encoder.img_size)
        resized = transform.apply_image(rgb)  # (h', W', 3) uint8, longest side = img_size
        device = self.sam.device
        x = torch.as_tensor(resized, device=device).permute(2, 0, 1).contiguous()[None].float()  # (1, 3, h', w')
        features = self.sam.image_encoder(self.sam.preprocess(x))  # (1, C, s, s)
        return {"features": features, "original_size": tuple(rgb.shape[:2]), "input_size": tuple(resized.shape[:2])}

    @torch.no_grad()
    def decode(self, state: dict, points, box, multimask: bool):
        """points: (N, 3) [x, y, label] in image pixels (may be empty); box: [x0, y0, x1, y1] or None.
        -> masks (K, H, W) bool, scores (K,) predicted IoU: K = 3 with multimask, else 1."""
        import numpy as np
        from segment_anything.utils.transforms import ResizeLongestSide

        transform = ResizeLongestSide(self.sam.image_encoder.img_size)
        device = self.sam.device
        pts = None
        if points is not None and len(points):
            arr = np.asarray(points, dtype=np.float32)
            coords = transform.apply_coords(arr[:, :2], state["original_size"])  # (N, 2) in the model's frame
            pts = (torch.as_tensor(coords, device=device)[None], torch.as_tensor(arr[:, 2], device=device)[None])
        boxes = None
        if box is not None:
            b = transform.apply_boxes(np.asarray(box, dtype=np.float32)[None], state["original_size"])  # (1, 4)
            boxes = torch.as_tensor(b, device=device)
        sparse, dense = self.sam.prompt_encoder(points=pts, boxes=boxes, masks=None)  # (1, n, C), (1, C, s, s)
        low, iou = self.sam.mask_decoder(image_embeddings=state["features"],
                                         image_pe=self.sam.prompt_encoder.get_dense_pe(),
                                         sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                         multimask_output=multimask)  # (1, K, 4s, 4s), (1, K)
        masks = self.sam.postprocess_masks(low, state["input_size"], state["original_size"])  # (1, K, H, W)
        return (masks[0] > self.sam.mask_threshold).cpu().numpy(), iou[0].float().cpu().numpy()


def build_sam(spec: ModelSpec, path: Path) -> SamModel:
    """Segment Anything from a checkpoint: Meta's .pth files (read with weights_only=True) or safetensors
    with the sizes in their metadata (our tiny SAM, and the random ones tests make)."""
    import segment_anything  # noqa: F401 - optional at run time: without it the classical engine runs

    state = read_state_dict(path)
    cfg = read_sam_config(path, state)
    sam = sam_from_config(cfg)
    sam.load_state_dict(state, strict=True)
    return SamModel(sam.eval(), cfg).eval()


# --- GANs ------------------------------------------------------------------------------------------

# (kernel, stride, padding) of the generator's four transposed convolutions; each doubles the side after the first.
GAN_LAYOUTS = {
    "dcgan32": [(4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1)],  # 1 -> 4 -> 8 -> 16 -> 32 (ours)
    "punks24": [(3, 1, 0), (3, 2, 1), (4, 2, 0), (4, 2, 1)],  # 1 -> 3 -> 5 -> 12 -> 24 (nateraw/cryptopunks-gan)
}


class DCGANGenerator(nn.Module):
    """The DCGAN generator (Radford et al. 2015): transposed convolutions with batch norm and ReLU, tanh out;
    no pooling and no fully connected layer. Key names follow the common `network.N` layout."""

    def __init__(self, z_dim: int, ngf: int, nc: int, layout: str = "dcgan32"):
        super().__init__()
        (k0, s0, p0), (k1, s1, p1), (k2, s2, p2), (k3, s3, p3) = GAN_LAYOUTS[layout]
        self.z_dim, self.nc, self.layout = z_dim, nc, layout
        self.network = nn.Sequential(
            nn.ConvTranspose2d(z_dim, ngf * 4, k0, s0, p0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, k1, s1, p1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, k2, s2, p2, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, k3, s3, p3, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim) -> (B, nc, S, S) in [-1, 1]
        return self.network(z[:, :, None, None])


class GanModel(nn.Module):
    """A generator and what the GAN page knows about its latent space: the attribute directions measured on it
    (unit vectors, with the length of the mean difference they came from). Hub GANs come without directions."""

    kind = "gan"

    def __init__(self, generator: DCGANGenerator, directions: dict[str, torch.Tensor] | None = None,
                 offsets: dict[str, float] | None = None):
        super().__init__()
        self.generator = generator
        self.z_dim = generator.z_dim
        self.attribute_names = sorted(directions or {})
        for name in self.attribute_names:
            self.register_buffer(f"dir_{name}", directions[name].float())
        self.offsets = dict(offsets or {})

    def direction(self, name: str) -> torch.Tensor:  # (z_dim,) unit vector
        return getattr(self, f"dir_{name}")

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim) -> (B, S, S, 3) uint8 (RGB; alpha over white)
        x = self.generator(z.to(next(self.generator.parameters()).device))  # (B, nc, S, S)
        x = ((x.clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1)  # (B, S, S, nc) in [0, 255]
        if x.shape[-1] == 4:  # RGBA (the punks): composite over white, the way they are shown
            a = x[..., 3:] / 255
            x = x[..., :3] * a + 255 * (1 - a)
        return x.round().to(torch.uint8).cpu()


def save_gan(model: GanModel, path: Path, meta: dict) -> None:
    import json

    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    g = model.generator
    cfg = {"z_dim": g.z_dim, "nc": g.nc, "layout": g.layout, "offsets": model.offsets, **meta}
    save_file(state, str(path), metadata={"gan_config": json.dumps(cfg)})


def build_gan(spec: ModelSpec, path: Path) -> GanModel:
    """A DCGAN generator from safetensors (ours: sizes and attribute directions inside) or a plain state dict
    (the punks generator on the hub: sizes read from its tensors, no directions)."""
    import json

    state = read_state_dict(path)
    cfg: dict = {}
    if Path(path).suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            cfg = json.loads((f.metadata() or {}).get("gan_config", "{}"))
    prefix = "generator." if any(k.startswith("generator.") for k in state) else ""
    # (z, 4ngf, k, k), (ngf, nc, k, k)
    first, last = state[f"{prefix}network.0.weight"], state[f"{prefix}network.9.weight"]
    layout = cfg.get("layout") or ("punks24" if first.shape[-1] == 3 else "dcgan32")
    gen = DCGANGenerator(int(first.shape[0]), int(first.shape[1]) // 4, int(last.shape[1]), layout)
    gen.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix + "network.")})
    directions = {k[len("dir_"):]: v for k, v in state.items() if k.startswith("dir_")}
    return GanModel(gen.eval(), directions, cfg.get("offsets")).eval()
