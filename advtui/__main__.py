from advtui.cli import console

console()
