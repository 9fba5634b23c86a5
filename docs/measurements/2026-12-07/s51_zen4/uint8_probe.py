import numpy as np, jaxrefine
from jaxrefine.camera import Camera, focal_from_image_size
from jaxrefine.network import load_pretrained
from jaxrefine.refine import refine
from jaxrefine.data.scenes import GeneratorConfig, generate
model = jaxrefine.load_body_model()

from jaxrefine.data.sampling import SceneConfig
rng=np.random.default_rng(0)
poses=rng.normal(0,0.2,(8,24,3)).astype(np.float32)
b=generate(model,poses,2,0,GeneratorConfig(scene=SceneConfig(image_size=(128,128)),texture_size=32))
init={"global_orient":b.init_pose[:,0],"body_pose":b.init_pose[:,1:],"betas":b.init_betas,"transl":b.init_transl}
net=load_pretrained()[:2]
q=[np.round(np.asarray(i)*255).astype(np.uint8) for i in b.image]
f=refine(model,[x.astype(np.float32)/255 for x in q],init,b.cameras,net)
u=refine(model,q,init,b.cameras,net)
print("max |uint8 - float| body_pose:", float(np.abs(f.params["body_pose"]-u.params["body_pose"]).max()))
