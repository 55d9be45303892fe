"""Face-embedding backbone pretrained on public identities (the `pretrain` stage)."""
