"""Matching history steps to diff_ids and to the manifest's layers."""

from __future__ import annotations

from ..model import Image, Layer


def link_layers(image: Image) -> None:
    """Join manifest layers with diff_ids by position, then give each non-empty step its layer.

    Nothing is dropped or guessed: when counts disagree every layer is kept, the surplus stays
    unmatched, and a warning says what disagrees.
    """
    manifest_layers = image.layers
    diff_ids = image.diff_ids
    if manifest_layers and diff_ids and len(manifest_layers) != len(diff_ids):
        image.warnings.append(
            f"manifest lists {len(manifest_layers)} layers but the config has "
            f"{len(diff_ids)} diff_ids"
        )
    if not manifest_layers:
        image.layers = [Layer(diff_id=diff_id) for diff_id in diff_ids]
    else:
        for layer, diff_id in zip(manifest_layers, diff_ids, strict=False):
            layer.diff_id = diff_id
    layers = iter(image.layers)
    non_empty = 0
    for step in image.steps:
        if step.empty_layer:
            continue
        non_empty += 1
        step.layer = next(layers, None)
    expected = len(diff_ids) if diff_ids else len(image.layers)
    if image.steps and non_empty != expected:
        what = "rootfs has" if diff_ids else "the manifest lists"
        image.warnings.append(
            f"history has {non_empty} non-empty steps but {what} {expected} layers"
        )
    filesystem = [layer for layer in image.layers if _is_filesystem(layer)]
    if not image.steps and filesystem:
        image.warnings.append(f"image has no history: {len(filesystem)} layers without steps")


def _is_filesystem(layer: Layer) -> bool:
    """False for attestation payloads (in-toto), which no history step produces."""
    return layer.media_type is None or "in-toto" not in layer.media_type
