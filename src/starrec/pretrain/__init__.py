"""Face-embedding backbone pretrained on public identities (for the `pretrain` stage)."""
