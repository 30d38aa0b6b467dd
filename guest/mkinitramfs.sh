#!/bin/bash
# Builds a busybox initramfs (newc cpio, gzip or plain) without root: the guest image of
# the integration tests, and, with other options, the test host's image (tests/testhost/run).
set -euo pipefail

prog=${0##*/}
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Modules the guest loads at boot, in any order: dependencies are resolved through
# modules.dep and loaded first; names absent from the module tree are skipped, so the
# list may name drivers that later issues need before the VMM has their devices.
default_modules=(
	pvpanic pvpanic_mmio pvpanic_pci
	virtio_mmio virtio_pci
	virtio_blk virtio_net virtio_rng virtio_console virtio_balloon
	vmw_vsock_virtio_transport
	fuse virtiofs
	gpio_keys evdev
)
# arm64 (vmm's arm64 machine has virtio-pci or virtio-mmio, no pvpanic; its power button is
# gpio-keys): Debian's arm64 kernel also has ext4 and the crc32c it checksums with as
# modules, which the x86_64 cloud kernel builds in (blk_io mounts an ext4 disk).
default_modules_arm64=(
	virtio_mmio virtio_pci
	virtio_blk virtio_net virtio_rng virtio_console virtio_balloon
	vmw_vsock_virtio_transport
	fuse virtiofs
	gpio_keys evdev
	crc32c_generic ext4
)

usage() {
	cat <<EOF
Usage: $prog -o FILE [options]

Builds a busybox initramfs with an /init script and kernel modules (dependencies
resolved via modules.dep, load order written to /lib/modules/vmmtest/load.list).

  -o, --output FILE     the initramfs to write (required)
  --kver VER            kernel version whose modules to take (default: the running
                        kernel's if /lib/modules/\$(uname -r) exists, else the newest
                        /lib/modules/*-cloud-amd64)
  --moddir DIR          that version's module tree (default /lib/modules/VER); the
                        version defaults to the directory's name
  --init FILE           script installed as /init (default: $script_dir/init)
  --busybox FILE        statically linked busybox (default /bin/busybox, /usr/bin/busybox)
  --arch x86_64|arm64   the image's architecture (default x86_64). arm64 takes busybox
                        from Debian's busybox-static:arm64 (apt-get download and
                        dpkg-deb -x into \$VMM_TEST_CACHE/arm64, never installed) and
                        needs --moddir (or --no-modules)
  --modules "A B"       replace the module list (default: ${default_modules[*]};
                        with --arch arm64: ${default_modules_arm64[*]})
  --add-modules "A B"   append to the module list (default or --modules)
  --no-modules          no kernel modules at all (overrides the other two)
  --overlay DIR         copy DIR's contents into the image root (repeatable; applied
                        last, so it may replace busybox applets)
  --compress gzip|none  (default gzip)
  --print-modules       print the resolved load order and exit
  -h, --help
EOF
}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

output=""
kver=""
moddir=""
init_script="$script_dir/init"
busybox=""
modules=()
modules_given=0
overlays=()
compress=gzip
print_only=0
added=()
no_modules=0
arch=x86_64
cache=${VMM_TEST_CACHE:-${HOME:-/root}/.cache/vmm-tests}

while [ $# -gt 0 ]; do
	case $1 in
	-o | --output) output=${2:?}; shift 2 ;;
	--kver) kver=${2:?}; shift 2 ;;
	--moddir) moddir=${2:?}; shift 2 ;;
	--init) init_script=${2:?}; shift 2 ;;
	--busybox) busybox=${2:?}; shift 2 ;;
	--arch) arch=${2:?}; shift 2 ;;
	--modules) read -r -a modules <<<"${2-}"; modules_given=1; shift 2 ;;
	--add-modules) read -r -a extra <<<"${2-}"; added+=("${extra[@]}"); shift 2 ;;
	--no-modules) modules=(); modules_given=1; no_modules=1; shift ;;
	--overlay) overlays+=("${2:?}"); shift 2 ;;
	--compress) compress=${2:?}; shift 2 ;;
	--print-modules) print_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done

case $compress in gzip | none) ;; *) die "--compress takes gzip or none, not '$compress'" ;; esac
[ -n "$output" ] || [ "$print_only" = 1 ] || { usage >&2; die "-o FILE is required"; }
case $arch in x86_64 | amd64) arch=x86_64 ;; arm64 | aarch64) arch=arm64 ;;
*) die "--arch takes x86_64 or arm64, not '$arch'" ;; esac
if [ "$modules_given" = 0 ]; then
	if [ "$arch" = arm64 ]; then
		modules=("${default_modules_arm64[@]}")
	else
		modules=("${default_modules[@]}")
	fi
fi
[ "$no_modules" = 1 ] || modules+=("${added[@]}")
if [ "$arch" = arm64 ] && [ ${#modules[@]} -gt 0 ] && [ -z "$moddir" ]; then
	die "--arch arm64 needs --moddir (an arm64 kernel's module tree) or --no-modules"
fi

# --- the module tree --------------------------------------------------------------------

if [ ${#modules[@]} -gt 0 ]; then
	if [ -z "$moddir" ]; then
		if [ -z "$kver" ]; then
			if [ -e "/lib/modules/$(uname -r)/modules.dep" ]; then
				kver=$(uname -r)
			else
				# Newest cloud kernel: the one the test harness boots.
				kver=$(find /lib/modules -mindepth 1 -maxdepth 1 -name '*-cloud-amd64' \
					-printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
				[ -n "$kver" ] || die "no module tree for the running kernel ($(uname -r)) and" \
					"no /lib/modules/*-cloud-amd64; install linux-image-cloud-amd64 or pass --moddir"
			fi
		fi
		moddir=/lib/modules/$kver
	fi
	[ -n "$kver" ] || kver=$(basename "$moddir")
	[ -r "$moddir/modules.dep" ] || die "$moddir/modules.dep not found (pass --kver or --moddir" \
		"of an installed kernel, e.g. from linux-image-cloud-amd64)"
fi

# modules.dep maps "kernel/path/name.ko[.xz]: dep1.ko dep2.ko ..."; module names treat
# '-' and '_' alike (virtio_rng lives in virtio-rng.ko).
declare -A dep_line=() name_path=()
if [ ${#modules[@]} -gt 0 ]; then
	while IFS= read -r line; do
		path=${line%%:*}
		base=${path##*/}
		base=${base%%.ko*}
		base=${base//-/_}
		name_path[$base]=$path
		dep_line[$path]=${line#*:}
	done <"$moddir/modules.dep"
fi

declare -A visited=()
load_order=()
missing=()

# Depth-first: every dependency lands in load_order before the module that needs it,
# whatever order modules.dep lists them in.
add_module_path() {
	local path=$1 dep
	[ -z "${visited[$path]+x}" ] || return 0
	visited[$path]=1
	for dep in ${dep_line[$path]-}; do
		add_module_path "$dep"
	done
	load_order+=("$path")
}

for m in "${modules[@]}"; do
	key=${m//-/_}
	key=${key%.ko}
	if [ -n "${name_path[$key]+x}" ]; then
		add_module_path "${name_path[$key]}"
	else
		missing+=("$m")
	fi
done

if [ "$print_only" = 1 ]; then
	printf '%s\n' "${load_order[@]}"
	[ ${#missing[@]} -eq 0 ] || echo "# not in $moddir (built in or absent): ${missing[*]}" >&2
	exit 0
fi

# --- busybox ----------------------------------------------------------------------------

# arm64_busybox: Debian's busybox-static:arm64, unpacked once into the cache.
arm64_busybox() {
	local dir=$cache/arm64/busybox-static deb
	if [ ! -x "$dir/bin/busybox" ]; then
		if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
			die "apt-get and dpkg-deb are needed to fetch busybox-static:arm64"
		fi
		mkdir -p "$cache/arm64/debs"
		rm -f "$cache/arm64/debs"/busybox-static_*_arm64.deb
		(cd "$cache/arm64/debs" && apt-get download -q busybox-static:arm64) >&2 ||
			die "apt-get download busybox-static:arm64 failed (dpkg --add-architecture arm64 &&" \
				"apt-get update; tools/install-deps does both)"
		deb=$(find "$cache/arm64/debs" -maxdepth 1 -name 'busybox-static_*_arm64.deb' | head -n 1)
		[ -n "$deb" ] || die "apt-get download left no busybox-static_*_arm64.deb"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
	fi
	busybox=$dir/bin/busybox
}

if [ -z "$busybox" ] && [ "$arch" = arm64 ]; then
	arm64_busybox
fi
# The applet list comes from running busybox --list-full. An arm64 busybox does not run
# here: the build machine's busybox-static, built by Debian from the same source and
# configuration, lists the same applets.
lister=$busybox
if [ -z "$busybox" ] || [ "$arch" = arm64 ]; then
	lister=""
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] && { lister=$b; break; }
	done
	[ -n "$lister" ] || die "busybox not found; install the Debian package busybox-static"
fi
if [ -z "$busybox" ]; then
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] && { busybox=$b; break; }
	done
	[ -n "$busybox" ] || die "busybox not found; install the Debian package busybox-static"
fi
[ -x "$busybox" ] || die "$busybox is not executable"
if command -v file >/dev/null 2>&1 && ! file -L "$busybox" | grep -q 'statically linked'; then
	die "$busybox is dynamically linked; install busybox-static (not busybox) or pass --busybox"
fi
[ -r "$init_script" ] || die "init script $init_script not found"
command -v cpio >/dev/null || die "cpio not found; install the Debian package cpio"
if [ "$compress" = gzip ]; then
	command -v gzip >/dev/null || die "gzip not found; install the Debian package gzip"
fi

# --- staging ----------------------------------------------------------------------------

stage=$(mktemp -d "${TMPDIR:-/tmp}/mkinitramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root

# Merged-/usr layout like Debian 12, so binaries and libraries copied from the build
# machine (tests/testhost/run packs some) find their loader and libraries at the same paths.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,etc,root,mnt}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

cp "$busybox" "$root/usr/bin/busybox"
chmod 0755 "$root/usr/bin/busybox"
# --list-full names each applet with its directory (bin/sh, sbin/poweroff, usr/bin/awk).
while IFS= read -r applet; do
	case $applet in "" | bin/busybox | usr/bin/busybox) continue ;; esac
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
done < <("$lister" --list-full)
[ -e "$root/bin/sh" ] || die "$busybox has no sh applet"

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

cp "$init_script" "$root/init"
chmod 0755 "$root/init"

# Modules go to a fixed directory, not /lib/modules/VER: the /init needs no version
# logic, and it warns when the booted kernel is not the one the modules came from.
mdir=$root/lib/modules/vmmtest
mkdir -p "$mdir"
: >"$mdir/load.list"
printf '%s\n' "$kver" >"$mdir/kver"
for path in "${load_order[@]}"; do
	src=$moddir/$path
	rel=${path%.xz}
	rel=${rel%.zst}
	rel=${rel%.gz}
	mkdir -p "$mdir/$(dirname "$rel")"
	# busybox insmod takes plain .ko files only.
	case $path in
	*.ko) cp "$src" "$mdir/$rel" ;;
	*.ko.xz) xz -dc "$src" >"$mdir/$rel" || die "cannot decompress $src (install xz-utils)" ;;
	*.ko.zst) zstd -qdc "$src" >"$mdir/$rel" || die "cannot decompress $src (install zstd)" ;;
	*.ko.gz) gzip -dc "$src" >"$mdir/$rel" ;;
	*) die "unexpected module file $src" ;;
	esac
	printf '%s\n' "$rel" >>"$mdir/load.list"
done

for o in "${overlays[@]}"; do
	[ -d "$o" ] || die "overlay $o is not a directory"
	# tar keeps the image's lib -> usr/lib style links when the overlay has real /lib.
	(cd "$o" && tar -cf - .) | (cd "$root" && tar -xf - --keep-directory-symlink --no-same-owner)
done

# --- the archive ------------------------------------------------------------------------

# A newc cpio entry with a device node, which GNU cpio can only archive from a real node
# (mknod needs root). The kernel opens /dev/console for /init before anything is mounted.
cpio_hdr() { # name mode devmajor devminor
	local name=$1 mode=$2 maj=$3 min=$4 namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$mode" 0 0 1 0 0 0 0 "$maj" "$min" "$namesize" 0 "$name"
	# The header (110 bytes) plus the name is padded to a multiple of 4.
	local pad=$(((4 - (110 + namesize) % 4) % 4))
	[ $pad -eq 0 ] || head -c "$pad" /dev/zero
}
devnodes_cpio() {
	cpio_hdr dev $((0040755)) 0 0
	cpio_hdr dev/console $((0020600)) 5 1
	cpio_hdr dev/null $((0020666)) 1 3
	cpio_hdr TRAILER!!! 0 0 0
}

mkdir -p "$(dirname "$output")"
tmp_out=$output.tmp.$$
{
	devnodes_cpio
	# The kernel skips the zero padding between concatenated archives.
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
} | if [ "$compress" = gzip ]; then gzip -9n; else cat; fi >"$tmp_out"
mv -f "$tmp_out" "$output"

if [ ${#missing[@]} -gt 0 ]; then
	echo "$prog: note: not in $moddir (built in or absent), skipped: ${missing[*]}" >&2
fi
