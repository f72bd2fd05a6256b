"""Spectral baseline: a mining-footprint "model" whose weights come from spectral-index physics.

Nothing here is trained. The network undoes the benchmark z-score, turns digital numbers into
surface reflectance, computes standard indices and combines them in a fixed logistic rule:

    evidence = W_BSI  * (BSI - T_BSI)                    bare soil / exposed rock
             + W_VEG  * (T_NDVI - max(NDVI, 0))          no green vegetation
             + W_SWIR * (min(SWIR, SWIR_CAP) - T_SWIR)   bright in the short-wave infrared
             - W_WATER * max(MNDWI, 0)                   open water is not mining
             - W_BUILT * max(NDBI, 0)                    moderate built-up penalty
    z      = mean over a KERNEL x KERNEL window of clip(evidence, -CLIP, CLIP)
    logits = (-z/2, +z/2)                               softmax(logits)[1] == sigmoid(z)

The window mean makes the rule a vote of neighbours: open pits and dumps are contiguous bare
areas, a lone bare pixel (a track, a roof) is outvoted by the vegetation around it.

Run ``python -m export.spectral --out models_onnx`` to export and register the ONNX model.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from euromine_qgis.core import release
from euromine_qgis.core.engine.model_registry import register_model
from export.onnx import EXPORTERS, contract_metadata, export_onnx
from export.tolerant_field import field_provenance, record_tolerant_field

NAME = "spectral_baseline"
VERSION = "1.0.0"

# L2A digital numbers are reflectance x 10000 (ESA product specification).
QUANTIFICATION = 10000.0
# One digital number in reflectance units: keeps every normalized difference finite when both
# bands are 0 (nodata fill, deep shadow) and is far below any real signal.
EPS = 1e-4

# --- Thresholds: where each index crosses from "not mining" to "mining" evidence. ---
# BSI (Rikimaru et al. 2002) is negative over vegetation (about -0.3) and water, near 0 over
# mixed urban fabric and positive (0.05 - 0.3) over bare soil and rock; 0 is the usual cut.
T_BSI = 0.0
# NDVI 0.2 is the conventional boundary between bare/sparse cover (< 0.2) and vegetation;
# dense crops and forest reach 0.6 - 0.9.
T_NDVI = 0.2
# Mean of B11, B12: vegetation about 0.10 - 0.15, water < 0.02, bare soil and rock 0.2 - 0.45.
T_SWIR = 0.2
# Above this SWIR level more brightness says nothing more about exposed ground, and the cap
# keeps clouds and saturated pixels from dominating the vote.
SWIR_CAP = 0.4

# --- Weights: logit units per index unit, chosen so each term spans a few logits over its
# typical range (e.g. BSI vegetation -0.3 .. bare rock +0.2 is -3.6 .. +2.4). ---
W_BSI = 12.0
W_VEG = 10.0
W_SWIR = 8.0
# MNDWI (Xu 2006) > 0 is open water; 0.5 is typical of clear water, giving -5: water alone is
# never mining, whatever its other indices say.
W_WATER = 10.0
# NDBI (Zha et al. 2003) > 0 over built-up *and* bare soil. With W_BSI = 3 * W_BUILT the net
# bare-ground evidence stays positive only where BSI > NDBI / 3, i.e. where the visible
# spectrum is reddish (soil, rock, iron oxides) rather than flat grey (concrete, asphalt).
W_BUILT = 4.0

# A single pixel's vote is capped at +-4 logits (probability 0.018 .. 0.982) so that a few
# extreme pixels cannot decide a window.
CLIP = 4.0
# 5 x 5 pixels = 50 m x 50 m at 10 m: smaller than any open pit or dump worth mapping, larger
# than a track or a single building.
KERNEL = 5


class SpectralBaseline(nn.Module):
    """Fixed spectral-index rule: (N, 10, H, W) z-scored bands -> (N, 2, H, W) logits.

    Input bands follow ``release.BANDS`` (B2 B3 B4 B5 B6 B7 B8 B8A B11 B12), z-scored with the
    benchmark mean/std; classes are ("background", "mining"). Fully convolutional: any N, H, W.
    """

    def __init__(
        self,
        bands: tuple[str, ...] = release.BANDS,
        mean: tuple[float, ...] = release.MEAN,
        std: tuple[float, ...] = release.STD,
    ) -> None:
        super().__init__()
        if not len(bands) == len(mean) == len(std):
            raise ValueError("bands, mean and std must have the same length")
        self.index = {b: bands.index(b) for b in ("B2", "B3", "B4", "B8", "B11", "B12")}
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        # The averaging window as a fixed pool: count_include_pad=False averages over the
        # pixels that exist, so image borders are not pulled towards zero evidence.
        self.window = nn.AvgPool2d(KERNEL, stride=1, padding=KERNEL // 2, count_include_pad=False)

    @staticmethod
    def _nd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Normalized difference (a - b) / (a + b), finite for non-negative a, b."""
        return (a - b) / (a + b + EPS)

    def evidence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel mining evidence in logit units, (N, 1, H, W), before clipping and context."""
        # Reflectance is non-negative; the clamp also keeps the indices within [-1, 1].
        rho = torch.clamp((x * self.std + self.mean) / QUANTIFICATION, min=0.0)

        def band(name: str) -> torch.Tensor:
            i = self.index[name]
            return rho[:, i : i + 1]

        b2, b3, b4, b8, b11, b12 = (band(n) for n in ("B2", "B3", "B4", "B8", "B11", "B12"))
        ndvi = self._nd(b8, b4)
        bsi = self._nd(b11 + b4, b8 + b2)
        mndwi = self._nd(b3, b11)
        ndbi = self._nd(b11, b8)
        swir = torch.clamp(0.5 * (b11 + b12), max=SWIR_CAP)
        return (
            W_BSI * (bsi - T_BSI)
            + W_VEG * (T_NDVI - F.relu(ndvi))
            + W_SWIR * (swir - T_SWIR)
            - W_WATER * F.relu(mndwi)
            - W_BUILT * F.relu(ndbi)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2, H, W) for ("background", "mining"); their softmax is sigmoid(z)."""
        z = self.window(torch.clamp(self.evidence(x), -CLIP, CLIP))
        return torch.cat([-0.5 * z, 0.5 * z], dim=1)


def metadata() -> dict:
    """The ``euromine`` model-contract metadata of the spectral baseline."""
    return contract_metadata(NAME, "footprint", "not trained: weights set from spectral-index physics", VERSION)


def export(out_dir: Path, command: str) -> Path:
    """Export the spectral baseline to ``out_dir`` and register it in its models.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    opset, exporter = 17, "dynamo"
    path = export_onnx(
        SpectralBaseline(), out_dir / f"{NAME}.onnx", metadata(), opset=opset, exporter=exporter
    )
    tolerant = record_tolerant_field(path)
    register_model(
        out_dir,
        {
            "name": NAME,
            "file": path.name,
            "task": "footprint",
            "architecture": "spectral-index logistic rule (fixed weights, 5x5 mean context)",
            "display_name": "Spectral baseline (index rules, untrained)",
            "trained_on": metadata()["trained_on"],
            "synthetic_training": False,
            "license": "MIT",
            "version": VERSION,
            "provenance": {
                "command": command,
                "seed": None,  # nothing random goes into the weights
                "torch": torch.__version__,
                "onnx_opset": opset,
                "exporter": EXPORTERS[exporter],
                "receptive_field": field_provenance(path, command, tolerant),
            },
            "description": (
                "Untrained baseline for real Sentinel-2 L2A reflectance: bare-soil index, NDVI, "
                "SWIR brightness, water and built-up indices in a fixed logistic rule, averaged "
                "over 5x5 pixels. Confuses bare crop fields and large paved areas with mining and "
                "misses water-covered tailings; see models_onnx/README.md."
            ),
        },
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: export the spectral baseline and register it."""
    parser = argparse.ArgumentParser(
        prog="python -m export.spectral",
        description="Export the untrained spectral-index baseline to ONNX and register it in "
        "OUT/models.json.",
    )
    parser.add_argument("--out", type=Path, default=Path("models_onnx"), help="output folder (default: models_onnx)")
    args = parser.parse_args(argv)
    raw = sys.argv[1:] if argv is None else argv
    command = " ".join(["python", "-m", "export.spectral", *(shlex.quote(a) for a in raw)])
    path = export(args.out, command)
    print(f"wrote {path} and {args.out / 'models.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
