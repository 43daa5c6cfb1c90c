"""A tiny random-weight Mochi pipeline built entirely in code: no hub, no files, same weights every time.

It exercises the real diffusers `MochiPipeline` code path (T5 text encoder, Mochi transformer, Mochi VAE,
flow-matching scheduler) in well under a second per render on a CPU, for tests and local runs.
"""

from __future__ import annotations

import torch
from diffusers.models.autoencoders.autoencoder_kl_mochi import AutoencoderKLMochi
from diffusers.models.transformers.transformer_mochi import MochiTransformer3DModel
from diffusers.pipelines.mochi.pipeline_mochi import MochiPipeline
from diffusers.schedulers.scheduling_flow_match_euler_discrete import FlowMatchEulerDiscreteScheduler
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

SEED = 0
TEXT_EMBED_DIM = 32
# Prompts are padded (and truncated) to this many tokens, end-of-sequence token included.
MAX_SEQUENCE_LENGTH = 16

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
_WORDS = (
    *("a", "an", "the", "of", "in", "on", "at", "with", "and", "over", "under", "up", "close", "wide"),
    *("cat", "dog", "bird", "fish", "horse", "person", "man", "woman", "child", "car", "boat", "train"),
    *("tree", "flower", "sky", "sea", "river", "mountain", "city", "street", "forest", "beach", "sun"),
    *("red", "green", "blue", "yellow", "black", "white", "small", "big", "slow", "fast", "night", "day"),
    *("running", "walking", "flying", "swimming", "dancing", "sunset", "rain", "snow", "camera", "shot"),
)


def build_tiny_tokenizer(max_length: int = MAX_SEQUENCE_LENGTH) -> PreTrainedTokenizerFast:
    """Lower-cased word-level tokenizer; unknown words map to <unk>, every sequence ends with </s>."""
    vocab = {token: index for index, token in enumerate((PAD, EOS, UNK, *_WORDS))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        model_max_length=max_length,
        padding_side="right",
    )


def _build_text_encoder(vocab_size: int) -> T5EncoderModel:
    config = T5Config(
        vocab_size=vocab_size,
        d_model=TEXT_EMBED_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        relative_attention_num_buckets=8,
        pad_token_id=0,  # PAD
        eos_token_id=1,  # EOS
    )
    return T5EncoderModel(config)


def _build_transformer(heads: int) -> MochiTransformer3DModel:
    transformer: MochiTransformer3DModel = MochiTransformer3DModel(
        patch_size=2,
        num_attention_heads=heads,
        attention_head_dim=8,
        num_layers=2,
        pooled_projection_dim=16,
        in_channels=12,
        text_embed_dim=TEXT_EMBED_DIM,
        time_embed_dim=4,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
    )
    return transformer


def _build_vae() -> AutoencoderKLMochi:
    vae: AutoencoderKLMochi = AutoencoderKLMochi(
        latent_channels=12,
        out_channels=3,
        encoder_block_out_channels=(32, 32, 32, 32),
        decoder_block_out_channels=(32, 32, 32, 32),
        layers_per_block=(1, 1, 1, 1, 1),
    )
    return vae


def build_tiny_mochi_pipeline(dtype: torch.dtype = torch.float32, heads: int = 2) -> MochiPipeline:
    """Build the tiny pipeline on the CPU from a fixed seed without touching the caller's global RNG.

    `heads` sets the transformer's attention heads (8 dims each): sequence parallel needs a head count
    its degree divides, so the gang tests use 4."""
    tokenizer = build_tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        text_encoder = _build_text_encoder(vocab_size=len(tokenizer))
        transformer = _build_transformer(heads)
        vae = _build_vae()
    models: tuple[torch.nn.Module, ...] = (text_encoder, transformer, vae)
    for model in models:
        if dtype != torch.float32:  # diffusers warns on every `.to(dtype)`, even a no-op one
            model.to(dtype=dtype)
        model.eval()
    return MochiPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
