"""Facts about this machine (GPUs, disk, git, Python interpreters, proxies) and the advice
smx derives from them (which torch build, which VRAM flags). Used by `smx doctor` and the
installer; never prints."""
