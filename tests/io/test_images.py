import os
import stat

import numpy as np
import pytest
from PIL import Image

from scoredeblur.io.images import (
    TEMP_MARK,
    ImageReadError,
    ImageWriteError,
    check_writable,
    read_image,
    remove_stale_temporaries,
    write_array,
    write_image,
)


def _img(rng, shape, dtype):
    hi = np.iinfo(dtype).max
    return rng.integers(0, hi + 1, size=shape, dtype=np.int64).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(13, 17), (13, 17, 3), (13, 17, 4)])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_lossless_round_trips(tmp_path, rng, dtype, shape, suffix):
    arr = _img(rng, shape, dtype)
    path = write_image(tmp_path / f"x{suffix}", arr)
    back = read_image(path).pixels
    assert back.dtype == dtype and back.shape == arr.shape
    assert np.array_equal(back, arr)


def test_jpeg_round_trip_is_close_and_16bit_is_reduced(tmp_path, rng):
    smooth = np.tile(np.linspace(0, 255, 32, dtype=np.float64), (24, 1))
    arr = np.stack([smooth, smooth[::-1], np.full_like(smooth, 128)], axis=2).astype(np.uint8)
    back = read_image(write_image(tmp_path / "x.jpg", arr, quality=98)).pixels
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - arr).mean() < 2.0
    with pytest.warns(UserWarning, match="8 bits"):
        write_image(tmp_path / "y.jpg", (arr.astype(np.uint16) * 257))
    with pytest.raises(ImageWriteError, match="alpha"):
        write_image(tmp_path / "z.jpg", np.zeros((4, 4, 4), np.uint8))


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :5] = 255  # a bright band on the left
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=100)
    data = read_image(tmp_path / "o.jpg")
    assert data.pixels.shape == (20, 10, 3)
    assert data.pixels[:5, :, 0].mean() > 200 and data.pixels[-5:, :, 0].mean() < 50  # band now on top
    carried = Image.Exif()
    carried.load(data.exif)
    assert carried.get(0x0112, 1) == 1  # tag reset: viewers must not rotate the output again
    out = write_image(tmp_path / "o2.jpg", data.pixels, exif=data.exif)
    again = read_image(out)
    assert again.pixels.shape == (20, 10, 3)  # the orientation tag was reset, not applied twice


def test_icc_profile_is_carried(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    arr = np.full((8, 8, 3), 100, np.uint8)
    for suffix in (".png", ".jpg", ".tif"):
        out = write_image(tmp_path / f"c{suffix}", arr, icc_profile=icc)
        assert read_image(out).icc_profile == icc
    out16 = write_image(tmp_path / "c16.tif", arr.astype(np.uint16) * 257, icc_profile=icc)
    assert read_image(out16).icc_profile == icc


def test_read_errors_name_the_problem(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty file"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(ImageReadError, match="not a recognised image"):
        read_image(tmp_path / "text.png")
    good = write_image(tmp_path / "good.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    raw = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageReadError, match="truncated|corrupt|decode"):
        read_image(tmp_path / "trunc.png")
    with pytest.raises(ImageReadError, match="decompression-bomb"):
        read_image(good, max_pixels=1000)
    with pytest.raises(ImageReadError, match="not a file"):
        read_image(tmp_path)


def test_writes_are_atomic_and_never_clobber(tmp_path, rng):
    arr = _img(rng, (8, 8, 3), np.uint8)
    target = write_image(tmp_path / "a.png", arr)
    with pytest.raises(ImageWriteError, match="refusing to overwrite"):
        write_image(target, arr[::-1])
    assert np.array_equal(read_image(target).pixels, arr)
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(tmp_path / "nope" / "a.png", arr)
    with pytest.raises(ImageWriteError, match="only TIFF holds float pixels"):
        write_image(tmp_path / "f.png", arr.astype(np.float32))
    with pytest.raises(ImageWriteError, match="uint8 or uint16"):
        write_image(tmp_path / "f.png", arr.astype(np.int32))
    with pytest.raises(ImageWriteError, match="unsupported output format"):
        write_image(tmp_path / "a.xyz", arr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no temporary left behind
    write_image(target, arr[::-1], overwrite=True)
    assert np.array_equal(read_image(target).pixels, arr[::-1])


def test_concurrent_writers_of_one_output_cannot_both_succeed(tmp_path, rng):
    """Exclusive creation: of eight writers racing for one name exactly one wins, and the file is
    the winner's image, whole."""
    import threading

    target = tmp_path / "race.png"
    images = [_img(rng, (64, 64, 3), np.uint8) for _ in range(8)]
    results: list = [None] * 8
    start = threading.Barrier(8)

    def write(i):
        start.wait()
        try:
            write_image(target, images[i])
            results[i] = "ok"
        except ImageWriteError as exc:
            results[i] = str(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    winners = [i for i, r in enumerate(results) if r == "ok"]
    assert len(winners) == 1, results
    assert all("exists" in r for r in results if r != "ok")
    assert np.array_equal(read_image(target).pixels, images[winners[0]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.png"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_permissions_of_a_normal_write(tmp_path, rng, umask, mode):
    old = os.umask(umask)
    try:
        path = write_image(tmp_path / "a.png", _img(rng, (8, 8, 3), np.uint8))
        arr = write_array(tmp_path / "a.npy", np.zeros(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE(arr.stat().st_mode) == mode


def test_stale_temporaries_are_found_and_removed(tmp_path, rng):
    write_image(tmp_path / "keep.png", _img(rng, (8, 8, 3), np.uint8))
    (tmp_path / f".photo{TEMP_MARK}.abc123.png").write_bytes(b"")  # what a kill -9 leaves
    (tmp_path / ".unrelated.png").write_bytes(b"x")
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [f".photo{TEMP_MARK}.abc123.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".unrelated.png", "keep.png"]


def test_16bit_tiff_orientation_is_applied(tmp_path, rng):
    import tifffile

    arr = _img(rng, (6, 10, 3), np.uint16)
    path = tmp_path / "rot.tif"
    tifffile.imwrite(path, arr, photometric="rgb", extratags=[(274, "H", 1, 6, False)])  # 6: rotate 90° CW
    got = read_image(path).pixels
    assert got.shape == (10, 6, 3)
    assert np.array_equal(got, np.rot90(arr, 3))


def test_16bit_colour_png_keeps_its_icc_profile(tmp_path, rng):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    arr = _img(rng, (8, 9, 3), np.uint16)
    path = write_image(tmp_path / "c16.png", arr, icc_profile=icc)
    data = read_image(path)
    assert data.pixels.dtype == np.uint16 and np.array_equal(data.pixels, arr)
    assert data.icc_profile == icc


def test_multi_frame_files_are_refused_not_cut(tmp_path, rng):
    import tifffile
    from PIL import Image

    frames = [Image.fromarray(_img(rng, (8, 8, 3), np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="3 frames"):
        read_image(tmp_path / "anim.gif")
    tifffile.imwrite(tmp_path / "pages.tif", _img(rng, (2, 8, 8), np.uint16))
    with pytest.raises(ImageReadError, match="2 pages"):
        read_image(tmp_path / "pages.tif")


def test_float_images_round_trip_through_tiff_only(tmp_path, rng):
    arr = rng.random((8, 9, 3)).astype(np.float32)
    path = write_image(tmp_path / "f.tif", arr)
    assert np.array_equal(read_image(path).pixels, arr)
    with pytest.raises(ImageWriteError, match="only TIFF"):
        check_writable(tmp_path / "f.png", np.float32, 3)
    with pytest.raises(ImageWriteError, match="alpha"):
        check_writable(tmp_path / "a.jpg", np.uint8, 4)
