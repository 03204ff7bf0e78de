# Mounts at "/" a read-only ROMFS image found in memory, overlaid with a
# writable littlefs in RAM, so files keep the paths they have on the host and
# tests can still create files anywhere (e.g. under /tmp). Sent to the qemu
# boards (which have no filesystem of their own) before a run; see
# mpyml.qemu. VfsRom alone knows only absolute paths and cannot chdir.
# The overlay's block device is the firmware's _ramdisk (C, allocation-free:
# littlefs may call it from the finaliser of a leaked file, while the heap
# is locked). Its memory is a region outside the heap when the board has one
# (qemu-m0: the heap stays the size of the RP2040's), else a bytearray.
import os
import uctypes
import vfs
from _ramdisk import RAMBlockDev


def _try_stat(fs, path):
    if fs is None:
        return None
    try:
        return fs.stat(path)
    except OSError:
        return None


class RomTree:
    def __init__(self, rom, ram_bytes, ram_addr=0):
        self._rom = rom
        self._ram_bytes = ram_bytes
        self._ram_addr = ram_addr
        self._ram = None  # made on the first write: runs that only read keep the heap
        self._cwd = "/"

    def _rw(self):
        if self._ram is None:
            n = self._ram_bytes
            disk = RAMBlockDev(uctypes.bytearray_at(self._ram_addr, n) if self._ram_addr else bytearray(n))
            vfs.VfsLfs2.mkfs(disk)
            self._ram = vfs.VfsLfs2(disk)
        return self._ram

    def _abs(self, path):
        if not path.startswith("/"):
            path = self._cwd + "/" + path
        parts = []
        for p in path.split("/"):
            if p == ".." and parts:
                parts.pop()
            elif p and p != "." and p != "..":
                parts.append(p)
        return "/" + "/".join(parts)

    def _parents(self, path):
        # Folders of the ROM image appear in the overlay when written into.
        p = ""
        for part in path.split("/")[1:-1]:
            p += "/" + part
            try:
                self._rw().mkdir(p)
            except OSError:
                pass

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def chdir(self, path):
        path = self._abs(path)
        st = _try_stat(self._ram, path) or _try_stat(self._rom, path)
        if st is None:
            raise OSError(2)  # ENOENT
        if not st[0] & 0x4000:
            raise OSError(20)  # ENOTDIR
        self._cwd = path

    def getcwd(self):
        return self._cwd

    def ilistdir(self, path):
        path = self._abs(path)
        seen = {}
        found = False
        for fs in (self._rom, self._ram):
            if fs is None:
                continue
            try:
                for entry in fs.ilistdir(path):
                    seen[entry[0]] = entry
                found = True
            except OSError:
                pass
        if not found:
            raise OSError(2)
        return iter([seen[k] for k in sorted(seen)])

    def stat(self, path):
        path = self._abs(path)
        st = _try_stat(self._ram, path) or _try_stat(self._rom, path)
        if st is None:
            raise OSError(2)
        return st

    def statvfs(self, path):
        return self._rw().statvfs("/")

    def open(self, path, mode):
        path = self._abs(path)
        if "w" in mode or "a" in mode or "+" in mode or "x" in mode:
            if "w" not in mode and _try_stat(self._ram, path) is None and _try_stat(self._rom, path):
                raise OSError(30)  # EROFS: cannot modify a file of the image in place
            self._parents(path)
            return self._rw().open(path, mode)
        if _try_stat(self._ram, path) is not None:
            return self._ram.open(path, mode)
        return self._rom.open(path, mode)

    def mkdir(self, path):
        path = self._abs(path)
        if _try_stat(self._rom, path) is not None and _try_stat(self._ram, path) is None:
            raise OSError(17)  # EEXIST
        self._parents(path)
        self._rw().mkdir(path)

    def _ram_only(self, path):
        if _try_stat(self._ram, path) is None and _try_stat(self._rom, path) is not None:
            raise OSError(30)  # EROFS

    def remove(self, path):
        path = self._abs(path)
        self._ram_only(path)
        self._rw().remove(path)

    def rmdir(self, path):
        path = self._abs(path)
        self._ram_only(path)
        self._rw().rmdir(path)

    def rename(self, old, new):
        old, new = self._abs(old), self._abs(new)
        self._ram_only(old)
        self._parents(new)
        self._rw().rename(old, new)


def _varuint(mem, pos):
    value = 0
    while True:
        b = mem[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


def mount_rom(addr, cwd, ram_bytes, ram_addr=0):
    head = uctypes.bytearray_at(addr, 16)
    if bytes(head[:3]) != b"\xd2\xcd\x31":
        raise OSError(19)  # ENODEV: no ROMFS image at addr
    size, start = _varuint(head, 3)
    rom = vfs.VfsRom(uctypes.bytearray_at(addr, start + size))
    tree = RomTree(rom, ram_bytes, ram_addr)
    vfs.mount(tree, "/")
    # The run's folder may hold no packed file itself: make it exist.
    try:
        tree.stat(cwd)
    except OSError:
        tree.mkdir(cwd)
    os.chdir(cwd)
