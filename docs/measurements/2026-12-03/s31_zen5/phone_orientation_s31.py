"""Session 31: a phone's portrait photo (stored on its side with EXIF orientation 6) refined
end to end, against the same photo stored upright. Run from the repository root after:

python -c "from PIL import Image; im = Image.open('../shared/real_images/coco_000000000785.jpg'); \
ex = Image.Exif(); ex[274] = 6; im.transpose(Image.Transpose.ROTATE_90).save('/tmp/tagged/coco_tagged.jpg', exif=ex, quality=98); \
im.transpose(Image.Transpose.ROTATE_90).transpose(Image.Transpose.ROTATE_270).save('/tmp/tagged/coco_reencoded.jpg', quality=98)"
jaxrefine refine ../shared/real_images/coco_000000000785.jpg --out /tmp/rsmall
jaxrefine refine /tmp/tagged/coco_reencoded.jpg --out /tmp/rre      # upright, JPEG-encoded again
jaxrefine refine /tmp/tagged/coco_tagged.jpg --out /tmp/rtag        # on its side, tagged
jaxrefine refine /tmp/tagged/coco_tagged.jpg --out /tmp/rtag_raw --ignore-exif
"""

import numpy as np
from scipy.spatial.transform import Rotation


def diff(a, b) -> str:
    ra, rb = (Rotation.from_rotvec(np.asarray(x["global_orient"]).reshape(-1, 3)) for x in (a, b))
    angle = np.degrees((ra.inv() * rb).magnitude().max())
    pose = np.abs(a["body_pose"] - b["body_pose"]).max()
    return (f"global orientation {angle:6.1f} deg, body_pose max {pose:.3f} rad, betas max "
            f"{np.abs(a['betas'] - b['betas']).max():.3f}, transl max "
            f"{np.abs(a['transl'] - b['transl']).max():.3f} m")


runs = {k: np.load(f"/tmp/{k}/refined.npz") for k in ("rsmall", "rre", "rtag", "rtag_raw")}
print("original vs re-encoded upright:     ", diff(runs["rsmall"], runs["rre"]))
print("re-encoded upright vs tagged:       ", diff(runs["rre"], runs["rtag"]))
print("re-encoded upright vs --ignore-exif:", diff(runs["rre"], runs["rtag_raw"]))
