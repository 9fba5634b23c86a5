"""Is the photo initial fit reproducible? Twice in one process, on the COCO photo."""
import numpy as np
from jaxrefine.detect import BlazePose
from jaxrefine.photo import estimates_from_photo
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
runner = BlazePose()
path = "/work/shared/real_images/3969570423_58eb848b75_c.jpg"
outs = [estimates_from_photo(model, path, tiles=(1.0, 0.6), runner=runner) for _ in range(3)]
for o in outs[1:]:
    print("landmarks max diff", np.abs(o.landmarks - outs[0].landmarks).max(),
          "pose max diff", np.abs(o.estimates.body_pose - outs[0].estimates.body_pose).max(),
          "transl", np.abs(o.estimates.transl - outs[0].estimates.transl).max())
