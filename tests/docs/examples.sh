#!/bin/bash
# examples.sh VMM NETSETUP DOC...: every complete VM config shown in the docs is valid.
# A complete config is a ```toml block with a [vm] and a [boot] table; each is run
# through `vmm --check` and, when it has a [[net]] table, `netsetup rules`, exactly as
# written except for its files: kernel, initrd, disk images, share sources and the
# console file are made (empty) under a scratch directory and the block's paths point
# there, so that the examples can keep the paths a real host uses (/var/lib/vmm/...).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 VMM NETSETUP DOC..." >&2; exit 2; }
vmm=$1 netsetup=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0

# check DOC LINE FILE: validates one extracted block.
check() {
	local doc=$1 line=$2 f=$3 dir out key val p
	dir=$tmp/ex$n
	mkdir -p "$dir/root"
	# Point each file key at a scratch copy: absolute paths under $dir/root, relative
	# ones (relative to the config's directory) under $dir.
	while IFS= read -r l; do
		if [[ $l =~ ^[[:space:]]*(kernel|initrd|path|source)[[:space:]]*=[[:space:]]*\"([^\"]+)\" ]]; then
			key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
			case $val in
			/*) p=$dir/root$val ;;
			*) p=$dir/$val ;;
			esac
			case $key in
			source) mkdir -p "$p" ;;
			path) mkdir -p "$(dirname "$p")" ;;
			*) mkdir -p "$(dirname "$p")"; : >"$p" ;;
			esac
			l=${l/\"$val\"/\"$p\"}
		fi
		printf '%s\n' "$l"
	done <"$f" >"$dir/vm.toml"
	# A [[disk]] path without size_mib names an image that must exist.
	if grep -q '^\[\[disk\]\]' "$dir/vm.toml"; then
		awk '/^\[/ { t = $0 } t == "[[disk]]" && $1 == "path" { gsub(/"/, "", $3); print $3 }' \
			"$dir/vm.toml" | while read -r p; do [ -e "$p" ] || truncate -s 1M "$p"; done
	fi
	if ! out=$("$vmm" --check --config "$dir/vm.toml" 2>&1 >/dev/null); then
		echo "$doc:$line: vmm --check refuses this example:"
		printf '%s\n' "$out" | sed 's/^/  /'
		bad=$((bad + 1))
	fi
	if grep -q '^\[\[net\]\]' "$dir/vm.toml" &&
		! out=$("$netsetup" rules "$dir/vm.toml" 2>&1 >/dev/null); then
		echo "$doc:$line: netsetup rules refuses this example:"
		printf '%s\n' "$out" | sed 's/^/  /'
		bad=$((bad + 1))
	fi
}

for doc in "$@"; do
	start=0 lineno=0
	while IFS= read -r l; do
		lineno=$((lineno + 1))
		if [ "$start" = 0 ] && [ "$l" = '```toml' ]; then
			start=$lineno
			: >"$tmp/block"
		elif [ "$start" != 0 ] && [ "$l" = '```' ]; then
			if grep -q '^\[vm\]' "$tmp/block" && grep -q '^\[boot\]' "$tmp/block"; then
				n=$((n + 1))
				check "$doc" "$start" "$tmp/block"
			fi
			start=0
		elif [ "$start" != 0 ]; then
			printf '%s\n' "$l" >>"$tmp/block"
		fi
	done <"$doc"
done
echo "examples: $n complete configs checked, $bad refused"
[ "$n" -gt 0 ] && [ "$bad" = 0 ]
