# tests/lib/enforce.sh: signed test packages and rootfs trees for the enforcement tests. Source it
# after tests/lib/common.sh (it uses $T, $DIGESTCTL, fail and skip). Needs gpg, rpmbuild, rpmsign,
# rpm.
#
#   ef_key                       make a throwaway gpg signing key: EF_GNUPG, EF_FPR, EF_KEY_ASC.
#   ef_stage NAME                a fresh staging dir for package NAME, printed; put files in it as
#                                they must appear in the rootfs (stage/usr/bin/x ...). Any bytes.
#   ef_package NAME VERSION STAGE [CONFIG_PATH...]
#                                build a signed noarch RPM from STAGE (files, symlinks and dirs kept,
#                                modes kept; CONFIG_PATHs marked %config) and print its path.
#   ef_install ROOT PKG...       rpm --root ROOT -U like a Fedora image (rpmdb in
#                                /usr/lib/sysimage/rpm), no dependency checks.
#   ef_store STORE ROOT          a new store with the key, imported from ROOT's rpmdb.
need_cmd gpg rpmbuild rpmsign rpm

ef_key() {
  EF_GNUPG=$T/gnupg
  mkdir -p "$EF_GNUPG"
  chmod 700 "$EF_GNUPG"
  cat >"$EF_GNUPG/params" <<KEY
%no-protection
Key-Type: RSA
Key-Length: 2048
Key-Usage: sign
Name-Real: digestfs enforcement test
Name-Email: enforce@digestfs.invalid
Expire-Date: 0
%commit
KEY
  GNUPGHOME=$EF_GNUPG gpg --batch --quiet --gen-key "$EF_GNUPG/params" 2>/dev/null ||
    fail "gpg could not make a key"
  EF_FPR=$(GNUPGHOME=$EF_GNUPG gpg --batch --with-colons --list-secret-keys 2>/dev/null |
    awk -F: '/^fpr:/ {print $10; exit}')
  [ -n "$EF_FPR" ] || fail "no fingerprint for the test key"
  EF_KEY_ASC=$T/enforce-key.asc
  GNUPGHOME=$EF_GNUPG gpg --batch --armor --export "$EF_FPR" >"$EF_KEY_ASC" 2>/dev/null
}

ef_stage() {
  local d=$T/stage-$1
  rm -rf "$d"
  mkdir -p "$d"
  echo "$d"
}

ef_package() {
  local name=$1 version=$2 stage=$3
  shift 3
  local top=$T/rpmbuild-$name-$version
  rm -rf "$top"
  mkdir -p "$top/SPECS" "$T/rpms"
  local files=$top/files.list
  : >"$files"
  local p rel
  while IFS= read -r -d '' p; do
    rel=${p#"$stage"}
    local attr=""
    for c in "$@"; do [ "$c" == "$rel" ] && attr="%config(noreplace) "; done
    if [ -d "$p" ] && [ ! -L "$p" ]; then
      echo "%dir \"$rel\"" >>"$files"
    else
      echo "$attr\"$rel\"" >>"$files"
    fi
  done < <(find "$stage" -mindepth 1 -print0 | sort -z)
  cat >"$top/SPECS/$name.spec" <<SPEC
Name: $name
Version: $version
Release: 1
Summary: digestfs enforcement test package $name
License: MIT
BuildArch: noarch
%define _binaries_in_noarch_packages_terminate_build 0
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
%define __strip /bin/true
%description
Test package.
%install
mkdir -p %{buildroot}
cp -a "$stage"/. %{buildroot}/
%files -f $files
SPEC
  rpmbuild --quiet --define "_topdir $top" --define "_rpmdir $T/rpms" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
    -bb "$top/SPECS/$name.spec" >"$top/build.log" 2>&1 || { cat "$top/build.log" >&2; fail "rpmbuild $name"; }
  local pkg=$T/rpms/$name-$version-1.noarch.rpm
  GNUPGHOME=$EF_GNUPG rpmsign --define '__gpg /usr/bin/gpg' --define "_gpg_name $EF_FPR" \
    --addsign "$pkg" >"$top/sign.log" 2>&1 || { cat "$top/sign.log" >&2; fail "rpmsign $name"; }
  echo "$pkg"
}

ef_install() {
  local root=$1
  shift
  mkdir -p "$root"
  rpm --root "$root" --dbpath /usr/lib/sysimage/rpm -U --nodeps --nosignature --noscripts "$@" \
    >"$T/rpm-install.log" 2>&1 || { cat "$T/rpm-install.log" >&2; fail "rpm -U $*"; }
}

ef_store() {
  local store=$1 root=$2
  "$DIGESTCTL" --store "$store" init >/dev/null || fail "digestctl init"
  "$DIGESTCTL" --store "$store" keys add "$EF_KEY_ASC" >/dev/null || fail "digestctl keys add"
  "$DIGESTCTL" --store "$store" import rpmdb --root "$root" >"$T/import.log" 2>&1 ||
    { cat "$T/import.log" >&2; fail "digestctl import rpmdb --root $root"; }
}
