#!/usr/bin/python3
"""Write Fashion-MNIST test images into an image-folder tree (netspace's --data folder)
and, beside it, the same images as IDX files in the folder's order, so that a test can
compare the folder loader and training on it against the IDX loader.

usage: make_image_folder.py FASHION_DIR OUT N_TRAIN N_TEST

OUT/png/{train,test}/c<label>/<index>.png   lossless gray PNG
OUT/jpg/{train,test}/c<label>/<index>.jpg   JPEG, quality 95
OUT/idx/{train,t10k}-{images,labels}-idx?-ubyte   the same images, in the folder's order
   (classes sorted, then file names sorted: what the loader's labels and order are)
The first N_TRAIN images of t10k are the training set, the next N_TEST the test set.
Needs PIL (Debian python3-pil)."""
import gzip
import os
import struct
import sys

from PIL import Image


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if struct.unpack(">I", data[:4])[0] != magic:
        sys.exit(f"{path}: bad magic")
    if magic == 0x803:
        n, h, w = struct.unpack(">III", data[4:16])
        return data[16:], n, h, w
    n = struct.unpack(">I", data[4:8])[0]
    return data[8:], n, 0, 0


def main():
    src, out, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    px, n, h, w = read_idx(os.path.join(src, "t10k-images-idx3-ubyte.gz"), 0x803)
    lab, _, _, _ = read_idx(os.path.join(src, "t10k-labels-idx1-ubyte.gz"), 0x801)
    if n_train + n_test > n:
        sys.exit("not enough images")
    img = h * w
    splits = {"train": range(0, n_train), "test": range(n_train, n_train + n_test)}
    idx_names = {"train": "train", "test": "t10k"}
    for split, rng in splits.items():
        order = sorted(rng, key=lambda i: (f"c{lab[i]}", f"{i:05d}"))
        for i in order:
            im = Image.frombytes("L", (w, h), px[i * img:(i + 1) * img])
            for kind in ("png", "jpg"):
                d = os.path.join(out, kind, split, f"c{lab[i]}")
                os.makedirs(d, exist_ok=True)
                if kind == "png":
                    im.save(os.path.join(d, f"{i:05d}.png"))
                else:
                    im.save(os.path.join(d, f"{i:05d}.jpg"), quality=95)
        d = os.path.join(out, "idx")
        os.makedirs(d, exist_ok=True)
        base = idx_names[split]
        with open(os.path.join(d, f"{base}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(order), h, w))
            for i in order:
                f.write(px[i * img:(i + 1) * img])
        with open(os.path.join(d, f"{base}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, len(order)))
            f.write(bytes(lab[i] for i in order))


if __name__ == "__main__":
    main()
