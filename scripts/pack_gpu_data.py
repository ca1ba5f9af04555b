"""Copy the training images into .gpudata/train so they fit a 64 MiB transfer to a GPU machine.

    python scripts/pack_gpu_data.py ../shared/data/train .gpudata/train

JPEGs are copied as they are; other formats are re-encoded as JPEG (quality 92, no chroma
subsampling). What the shipped model was trained on (docs/MODEL_CARD.md).
"""
import shutil
import sys
from pathlib import Path

from PIL import Image


def main(src: str, dst: str, quality: int = 92) -> None:
    src_dir, dst_dir = Path(src), Path(dst)
    for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
        out = dst_dir / path.relative_to(src_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in (".jpg", ".jpeg"):
            shutil.copy2(path, out)
        else:
            with Image.open(path) as im:
                im.convert("RGB").save(out.with_suffix(".jpg"), quality=quality, subsampling=0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
