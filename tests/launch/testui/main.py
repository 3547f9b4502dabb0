"""Entry point of the ComfyUI shaped test package."""

import testui

testui.main()
