#!/usr/bin/python3
"""A photo-like image folder for the mini-Xception figure (no cats-vs-dogs set can be
downloaded here): two Fashion-MNIST classes (5 sandal as "cat", 7 sneaker as "dog"),
upscaled with bicubic to random sizes around 300 x 240 (both orientations), tinted with a
random colour on a random-colour noisy background, saved as JPEG quality 90, as the
Kaggle set is: OUT/{train,test}/{cat,dog}/N.jpg.

usage: make_photo_folder.py FASHION_DIR OUT N_TRAIN N_TEST [SEED]
Needs PIL (Debian python3-pil)."""
import gzip
import os
import random
import struct
import sys

from PIL import Image, ImageFilter


def read(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def main():
    src, out, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rnd = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    px = read(os.path.join(src, "train-images-idx3-ubyte.gz"))[16:]
    lab = read(os.path.join(src, "train-labels-idx1-ubyte.gz"))[8:]
    names = {5: "cat", 7: "dog"}
    picks = [i for i in range(len(lab)) if lab[i] in names]
    rnd.shuffle(picks)
    for split, ids in (("train", picks[:n_train]), ("test", picks[n_train:n_train + n_test])):
        for i in ids:
            w, h = rnd.randint(220, 400), rnd.randint(180, 320)
            if rnd.random() < 0.3:
                w, h = h, w
            g = Image.frombytes("L", (28, 28), px[i * 784:(i + 1) * 784])
            side = min(w, h)
            g = g.resize((side, side), Image.BICUBIC)
            fg = tuple(rnd.randint(120, 255) for _ in range(3))
            bg = tuple(rnd.randint(0, 110) for _ in range(3))
            noise = Image.effect_noise((w, h), 40).convert("L")
            img = Image.composite(Image.new("RGB", (w, h), bg), Image.new("RGB", (w, h), fg),
                                  Image.eval(noise, lambda v: 255 if v > 96 else 200))
            mask = Image.new("L", (w, h), 0)
            mask.paste(g, ((w - side) // 2, (h - side) // 2))
            img = Image.composite(Image.new("RGB", (w, h), fg), img, mask)
            img = img.filter(ImageFilter.GaussianBlur(0.8))
            d = os.path.join(out, split, names[lab[i]])
            os.makedirs(d, exist_ok=True)
            img.save(os.path.join(d, f"{i}.jpg"), quality=90)


if __name__ == "__main__":
    main()
