"""ResNet-50 trainer for maskgen datasets (needs the ``train`` extra: torch, torchvision)."""
