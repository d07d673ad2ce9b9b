"""Generate the local files that scripts/seed uploads.

Usage:
  seed-files.py photos DIR        JPEG photos in DIR/fullsize and DIR/thumbs
  seed-files.py tar FILE FIRST END
                                  tar of obj-FIRST.txt ... obj-(END-1).txt
  seed-files.py many-is-current CONTAINER COUNT
                                  exit 0 when CONTAINER contains exactly the
                                  objects of "tar FILE 0 COUNT", 1 otherwise
                                  (needs OS_STORAGE_URL and OS_AUTH_TOKEN)

The output is the same on every run (seeded pseudo-random content and fixed
modification times), so tests can compare what they read with these files.
Needs Debian's python3-pil: run it with /usr/bin/python3.
"""

import hashlib
import io
import json
import os
import random
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

from PIL import Image, ImageOps

PHOTO_COUNT = 12
PHOTO_SIZES = [
    (1600, 1200), (2048, 1536), (2400, 1600), (2592, 1944),
    (3000, 2000), (1920, 1280), (2816, 2112), (2272, 1704),
    (3000, 2000), (1600, 1200), (2560, 1920), (2736, 1824),
]
THUMB_SIZE = (160, 120)
# 2024-05-01 10:00:00 UTC, the modification time of IMG_0001.jpg. Each
# following photo is one hour later.
FIRST_PHOTO_MTIME = 1714557600


def make_photo(width, height, seed):
    """Return an RGB image that JPEG at quality 88 stores in 0.5 to 2 MB.

    A smooth colour field alone compresses to about 250 KB at 3000x2000, so
    the image adds mid-sized blotches and pixel-level grain to it.
    """
    rng = random.Random(seed)
    coarse = Image.frombytes('RGB', (8, 6), rng.randbytes(8 * 6 * 3))
    image = coarse.resize((width, height), Image.BICUBIC)

    mid_width, mid_height = width // 16, height // 16
    mid = Image.frombytes('RGB', (mid_width, mid_height),
                          rng.randbytes(mid_width * mid_height * 3))
    image = Image.blend(image, mid.resize((width, height), Image.BILINEAR), 0.25)

    grain = Image.frombytes('L', (width, height), rng.randbytes(width * height))
    grain_strength = 0.07 + 0.01 * (seed % 6)
    return Image.blend(image, grain.convert('RGB'), grain_strength)


def write_photos(directory):
    for folder in ('fullsize', 'thumbs'):
        os.makedirs(os.path.join(directory, folder), exist_ok=True)

    for index in range(PHOTO_COUNT):
        number = index + 1
        name = 'IMG_%04d.jpg' % number
        width, height = PHOTO_SIZES[index]
        photo = make_photo(width, height, seed=number)
        thumb = ImageOps.fit(photo, THUMB_SIZE, Image.LANCZOS)

        mtime = FIRST_PHOTO_MTIME + 3600 * index
        for folder, image in (('fullsize', photo), ('thumbs', thumb)):
            path = os.path.join(directory, folder, name)
            image.save(path, 'JPEG', quality=88)
            os.utime(path, (mtime, mtime))


def many_object_name(index):
    return 'obj-%05d.txt' % index


def write_tar(path, first, end):
    """Write obj-FIRST.txt ... obj-(END-1).txt as a tar.

    Each file contains its own name.
    """
    with tarfile.open(path, 'w') as archive:
        for index in range(first, end):
            name = many_object_name(index)
            data = name.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            member.mtime = FIRST_PHOTO_MTIME
            member.mode = 0o644
            archive.addfile(member, io.BytesIO(data))


def list_container(container):
    """Return {name: hash} for every object, following listing pages."""
    storage_url = os.environ['OS_STORAGE_URL']
    token = os.environ['OS_AUTH_TOKEN']
    hashes = {}
    marker = ''
    while True:
        query = urllib.parse.urlencode({'format': 'json', 'marker': marker})
        request = urllib.request.Request(
            '%s/%s?%s' % (storage_url, urllib.parse.quote(container), query),
            headers={'X-Auth-Token': token})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                page = json.load(response) if response.status == 200 else []
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise
        if not page:
            return hashes
        for entry in page:
            hashes[entry['name']] = entry['hash']
        marker = page[-1]['name']


def many_is_current(container, count):
    expected = {}
    for index in range(count):
        name = many_object_name(index)
        expected[name] = hashlib.md5(name.encode()).hexdigest()
    return list_container(container) == expected


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'photos':
        write_photos(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == 'tar':
        write_tar(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == 'many-is-current':
        sys.exit(0 if many_is_current(sys.argv[2], int(sys.argv[3])) else 1)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
