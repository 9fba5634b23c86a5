"""Screen: linear blend skinning with 12 column slices (current) vs 4 slices of a (V, 3, 4)
view. Body forward+backward speed (as compile_chain_ab.py) and SMPLify compile time.

Usage: python skin_ab.py speed [turns] | python skin_ab.py compile current|rows MODEL KIND
"""

import sys

import compile_chain_ab as ab  # applies jaxrefine's XLA flags first

from jaxrefine import body_model as bm
from jaxrefine import objective


def skin_rows(weights, transforms, points):
    T = (weights @ transforms.reshape(transforms.shape[0], 12)).reshape(-1, 3, 4)
    x, y, z = points[:, 0:1], points[:, 1:2], points[:, 2:3]
    return T[:, :, 0] * x + T[:, :, 1] * y + T[:, :, 2] * z + T[:, :, 3]


SKINS = {"current": bm.skin, "rows": skin_rows}


def chain_with(skin):
    """The current chain, but the forward using ``skin`` (the speed loop patches rigid_chain)."""

    def chain(rotations, joints, parents):
        bm.skin = skin
        return ab.VARIANTS["after"](rotations, joints, parents)

    return chain


if __name__ == "__main__":
    if sys.argv[1] == "speed":
        ab.VARIANTS = {"before": chain_with(SKINS["current"]), "rows": chain_with(skin_rows)}
        ab.speed(int(sys.argv[2]) if len(sys.argv) > 2 else 20)
    else:
        bm.skin = objective.skin = SKINS[sys.argv[2]]
        ab.compile_time("after", *sys.argv[3:5])
