"""Mocap readers (BVH, ASF/AMC) and retargeting to SMPL-layout poses."""
