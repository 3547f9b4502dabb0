"""Entry point of the A1111, Forge and Fooocus shaped test package."""

import testui

testui.main()
