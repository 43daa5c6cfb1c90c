"""Ulysses sequence parallelism for diffusers' Mochi transformer.

Each member of a Ulysses group holds a contiguous slice of the video tokens (padded to a multiple of the
degree) from the first block to the final norm; the RoPE frequencies are sliced the same way. The text
tokens are small and stay whole on every member. In each joint attention, the video queries, keys and
values are projected on the local tokens, rotated, then all-to-all'ed from a token split to a head split:
each member then attends over the whole sequence with heads / degree of the heads, the text projections
sliced to the same heads and each sample's text mask applied as Mochi does. The video output goes back to a
token split by the reverse all-to-all; the text output, needed whole everywhere, is gathered by heads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from gpu_consumers.render.base import RenderError
from gpu_consumers.render.options import PinnedKernelProcessor
from gpu_consumers.render.parallel import collectives
from gpu_consumers.render.parallel.plan import GangPlan


class SequenceShard:
    """One member's slice of the video tokens, and the exchanges of its Ulysses group."""

    def __init__(self, plan: GangPlan, rank: int, group: Any) -> None:
        self.degree = plan.ulysses_degree
        self.index = plan.ulysses_rank(rank)
        self.peers = plan.ulysses_peers(rank)
        self.world_size = plan.world_size
        self.group = group
        self.tokens = 0  # the unpadded video sequence length of the current forward

    @property
    def local_tokens(self) -> int:
        return -(-self.tokens // self.degree)

    def split(self, tensor: torch.Tensor, dim: int) -> torch.Tensor:
        """This member's slice of `tensor` along `dim` (the token axis), zero-padded at the end."""
        tensor = self._pad(tensor, dim, self.local_tokens * self.degree)
        return tensor.narrow(dim, self.index * self.local_tokens, self.local_tokens)

    def gather(self, tensor: torch.Tensor, dim: int) -> torch.Tensor:
        """The whole token axis back from every peer's slice, padding dropped."""
        whole = collectives.gather_from(tensor, self.peers, dim, self.group, self.world_size)
        return whole.narrow(dim, 0, self.tokens)

    def to_heads(self, tensor: torch.Tensor) -> torch.Tensor:
        """(B, local tokens, H, D) -> (B, tokens, H / degree, D): all tokens, this member's heads."""
        batch, local, heads, dim = tensor.shape
        chunks = tensor.reshape(batch, local, self.degree, heads // self.degree, dim).permute(2, 0, 1, 3, 4)
        received = collectives.exchange(chunks, self.peers, self.group, self.world_size)
        whole = received.permute(1, 0, 2, 3, 4).reshape(batch, local * self.degree, heads // self.degree, dim)
        return whole[:, : self.tokens]

    def to_tokens(self, tensor: torch.Tensor) -> torch.Tensor:
        """(B, tokens, H / degree, D) -> (B, local tokens, H, D): the inverse of `to_heads`."""
        batch, _, local_heads, dim = tensor.shape
        padded = self._pad(tensor, 1, self.local_tokens * self.degree)
        chunks = padded.reshape(batch, self.degree, self.local_tokens, local_heads, dim).transpose(0, 1)
        received = collectives.exchange(chunks, self.peers, self.group, self.world_size)
        return received.permute(1, 2, 0, 3, 4).reshape(
            batch, self.local_tokens, self.degree * local_heads, dim
        )

    def head_slice(self, heads: int) -> slice:
        width = heads // self.degree
        return slice(self.index * width, (self.index + 1) * width)

    def gather_heads(self, tensor: torch.Tensor) -> torch.Tensor:
        """(B, H / degree, T, D) from every peer -> (B, H, T, D)."""
        return collectives.gather_from(tensor, self.peers, 1, self.group, self.world_size)

    @staticmethod
    def _pad(tensor: torch.Tensor, dim: int, length: int) -> torch.Tensor:
        missing = length - tensor.shape[dim]
        if missing == 0:
            return tensor
        shape = list(tensor.shape)
        shape[dim] = missing
        return torch.cat([tensor, tensor.new_zeros(shape)], dim=dim)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Mochi's RoPE on interleaved pairs (as diffusers' MochiAttnProcessor2_0 applies it)."""
    even, odd = x[..., 0::2].float(), x[..., 1::2].float()
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
    return rotated.to(x.dtype).flatten(-2)


def _joint_attention(
    video: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    text: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    mask: torch.Tensor,
) -> torch.Tensor:
    """Each sample's video tokens and valid text tokens attend jointly; (B, h, N + T, D), padded text zero."""
    outputs = []
    total = video[0].shape[2] + text[0].shape[2]
    for idx in range(video[0].shape[0]):
        valid = torch.nonzero(mask[idx].flatten(), as_tuple=False).flatten()
        q, k, v = (
            torch.cat([vid[idx : idx + 1], txt[idx : idx + 1, :, valid]], dim=2)
            for vid, txt in zip(video, text, strict=True)
        )
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)
        outputs.append(F.pad(out, (0, 0, 0, total - out.shape[2])))
    return torch.cat(outputs, dim=0)


class UlyssesMochiAttnProcessor:
    """MochiAttnProcessor2_0's computation with the video tokens split across a Ulysses group."""

    def __init__(self, shard: SequenceShard) -> None:
        self.shard = shard

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shard, heads = self.shard, attn.heads
        query, key, value = (
            proj(hidden_states).unflatten(2, (heads, -1)) for proj in (attn.to_q, attn.to_k, attn.to_v)
        )
        query, key = attn.norm_q(query), attn.norm_k(key)
        if image_rotary_emb is not None:
            query, key = (_rotate(x, *image_rotary_emb) for x in (query, key))
        mine = shard.head_slice(heads)
        # one all-to-all for the three: concatenated along the head dimension, which the exchange keeps whole
        qkv = shard.to_heads(torch.cat([query, key, value], dim=-1)).transpose(1, 2)
        video = qkv.chunk(3, dim=-1)
        text_q, text_k, text_v = (
            proj(encoder_hidden_states).unflatten(2, (heads, -1))
            for proj in (attn.add_q_proj, attn.add_k_proj, attn.add_v_proj)
        )
        text_q, text_k = attn.norm_added_q(text_q), attn.norm_added_k(text_k)
        text = tuple(x[:, :, mine].transpose(1, 2) for x in (text_q, text_k, text_v))
        out = _joint_attention(video, text, attention_mask)  # type: ignore[arg-type]
        video_out, text_out = out.split_with_sizes((shard.tokens, text_q.shape[1]), dim=2)
        video_out = shard.to_tokens(video_out.transpose(1, 2)).flatten(2, 3)
        text_out = shard.gather_heads(text_out).transpose(1, 2).flatten(2, 3)
        video_out = attn.to_out[1](attn.to_out[0](video_out))
        if hasattr(attn, "to_add_out"):
            text_out = attn.to_add_out(text_out)
        return video_out, text_out


def shard_sequence(transformer: torch.nn.Module, shard: SequenceShard) -> Callable[[], None]:
    """Split the video tokens (and RoPE) before the first block, gather them before the final norm, and
    swap every joint attention for the Ulysses processor; returns the undo."""
    from diffusers.models.attention_processor import MochiAttention

    def on_rope(module: Any, args: Any, output: tuple[torch.Tensor, torch.Tensor]) -> Any:
        cos, sin = output  # (tokens, heads, head_dim / 2)
        shard.tokens = cos.shape[0]
        return shard.split(cos, 0), shard.split(sin, 0)

    def before_first_block(module: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        if "hidden_states" not in kwargs:
            raise RenderError("sequence parallel expects the Mochi blocks to be called with keywords")
        kwargs["hidden_states"] = shard.split(kwargs["hidden_states"], 1)
        return args, kwargs

    def before_final_norm(module: Any, args: tuple[Any, ...]) -> Any:
        hidden, *rest = args
        return (shard.gather(hidden, 1), *rest)

    blocks: Any = transformer.transformer_blocks
    rope: Any = transformer.rope
    norm_out: Any = transformer.norm_out
    handles = [
        rope.register_forward_hook(on_rope),
        blocks[0].register_forward_pre_hook(before_first_block, with_kwargs=True),
        norm_out.register_forward_pre_hook(before_final_norm),
    ]
    layers = [module for module in transformer.modules() if isinstance(module, MochiAttention)]
    originals = [layer.processor for layer in layers]
    for layer, original in zip(layers, originals, strict=True):
        layer.processor = _keep_pinned_kernel(original, UlyssesMochiAttnProcessor(shard))

    def undo() -> None:
        for handle in handles:
            handle.remove()
        for layer, original in zip(layers, originals, strict=True):
            layer.processor = original

    return undo


def _keep_pinned_kernel(original: Any, processor: UlyssesMochiAttnProcessor) -> Any:
    """The new processor, inside the same attention-kernel pin as the one it replaces (if any)."""
    if isinstance(original, PinnedKernelProcessor):
        return PinnedKernelProcessor(processor, original.attention, original.device_type)
    return processor
