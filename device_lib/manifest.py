# The tinyml device package, for firmware builds (`mpyml build` includes this
# file from the manifest it generates) and for `mpremote mip install`.
metadata(description="mpyml device library: TinyML application logic in MicroPython", version="0.1.0")

package("tinyml")
