"""Networks: torchvision-named ResNets, STCN (release architecture and the small CPU variant), the global attention
model (GAM), shipped models."""
from vosnb.models.gam import GAM, GamConfig
from vosnb.models.resnet import resnet18, resnet50
from vosnb.models.stcn import STCN, QueryFeatures, StcnConfig, load_stcn_checkpoint
from vosnb.models.zoo import available, load_any_checkpoint, load_pretrained, model_card

__all__ = ["GAM", "GamConfig", "STCN", "QueryFeatures", "StcnConfig", "available", "load_any_checkpoint",
           "load_pretrained", "load_stcn_checkpoint", "model_card", "resnet18", "resnet50"]
