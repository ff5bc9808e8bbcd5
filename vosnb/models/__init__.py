"""Networks: torchvision-named ResNets, STCN (release architecture and the small CPU variant), RDE-VOS (STCN + SAM),
the global attention model (GAM), shipped models."""
from vosnb.models.gam import GAM, GamConfig
from vosnb.models.resnet import resnet18, resnet50
from vosnb.models.rde import RDE, SAM, load_rde_checkpoint
from vosnb.models.stcn import STCN, QueryFeatures, StcnConfig, load_stcn_checkpoint
from vosnb.models.zoo import available, load_any_checkpoint, load_pretrained, model_card

__all__ = ["GAM", "GamConfig", "RDE", "SAM", "STCN", "QueryFeatures", "StcnConfig", "available", "load_any_checkpoint",
           "load_pretrained", "load_rde_checkpoint", "load_stcn_checkpoint", "model_card", "resnet18", "resnet50"]
