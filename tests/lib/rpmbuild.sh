# tests/lib/rpmbuild.sh: build and sign throwaway RPM packages in tests. Source it after
# tests/lib/common.sh (it uses $T and skip/fail). Needs gpg, rpmbuild, rpmsign.
#
#   rpm_make_key [NAME]          make a throwaway gpg signing key (no passphrase). Sets
#                                RPM_GNUPGHOME, RPM_KEY_FPR, RPM_KEY_ID (16 hex, lowercase) and
#                                RPM_KEY_ASC (the armoured public key). Call again with another
#                                NAME for a second key; the variables then describe the new key.
#   rpm_build NAME VERSION RELEASE SPEC...
#                                build a noarch package into $T/rpms and print its path. Each SPEC:
#                                  /path=CONTENT            regular file (mode 0644)
#                                  /path:0755=CONTENT       regular file with a mode
#                                  %config /path=CONTENT    %config file
#                                  %ghost /path             %ghost file (not in the payload)
#                                  %dir /path               directory
#                                  /path->TARGET            symlink
#                                CONTENT may hold any bytes except NUL; printf escapes are not
#                                interpreted. Paths may hold spaces, not quotes or newlines. Set RPM_EPOCH to add an Epoch.
#   rpm_sign PKG                 sign PKG in place with the current key (rpmsign --addsign).
#   rpm_build_signed NAME VERSION RELEASE SPEC...   rpm_build + rpm_sign, prints the path.

need_cmd gpg rpmbuild rpmsign base64

rpm_make_key() {
  local name=${1:-dfs-test}
  RPM_GNUPGHOME=$T/gnupg-$name
  mkdir -p "$RPM_GNUPGHOME"
  chmod 700 "$RPM_GNUPGHOME"
  cat >"$RPM_GNUPGHOME/params" <<EOF
%no-protection
Key-Type: RSA
Key-Length: 2048
Key-Usage: sign
Name-Real: digestfs test key $name
Name-Email: $name@digestfs.invalid
Expire-Date: 0
%commit
EOF
  GNUPGHOME=$RPM_GNUPGHOME gpg --batch --quiet --gen-key "$RPM_GNUPGHOME/params" 2>/dev/null ||
    fail "gpg could not make a key"
  RPM_KEY_FPR=$(GNUPGHOME=$RPM_GNUPGHOME gpg --batch --with-colons --list-secret-keys 2>/dev/null |
    awk -F: '/^fpr:/ {print $10; exit}')
  [ -n "$RPM_KEY_FPR" ] || fail "no fingerprint for the new gpg key"
  RPM_KEY_ID=$(echo "${RPM_KEY_FPR: -16}" | tr 'A-F' 'a-f')
  RPM_KEY_ASC=$T/key-$name.asc
  GNUPGHOME=$RPM_GNUPGHOME gpg --batch --armor --export "$RPM_KEY_FPR" >"$RPM_KEY_ASC" 2>/dev/null
  [ -s "$RPM_KEY_ASC" ] || fail "gpg could not export the public key"
}

rpm_build() {
  local name=$1 version=$2 release=$3
  shift 3
  local top=$T/rpmbuild-$name-$version-$release
  mkdir -p "$top/SPECS" "$T/rpms"
  local spec=$top/SPECS/$name.spec install="" files="" s path content mode b64
  for s in "$@"; do
    case "$s" in
      "%ghost "*)
        path=${s#%ghost }
        files+="%ghost \"$path\""$'\n'
        ;;
      "%dir "*)
        path=${s#%dir }
        install+="mkdir -p '%{buildroot}$path'"$'\n'
        files+="%dir \"$path\""$'\n'
        ;;
      *"->"*)
        path=${s%%->*}
        install+="mkdir -p \"\$(dirname '%{buildroot}$path')\"; ln -s '${s#*->}' '%{buildroot}$path'"$'\n'
        files+="\"$path\""$'\n'
        ;;
      *)
        local attr=""
        if [[ $s == "%config "* ]]; then attr="%config(noreplace) "; s=${s#%config }; fi
        path=${s%%=*}
        content=${s#*=}
        mode=0644
        if [[ $path == *:* ]]; then mode=${path##*:}; path=${path%:*}; fi
        b64=$(printf '%s' "$content" | base64 -w0)
        install+="mkdir -p \"\$(dirname '%{buildroot}$path')\"; echo '$b64' | base64 -d > '%{buildroot}$path'; chmod $mode '%{buildroot}$path'"$'\n'
        files+="$attr\"$path\""$'\n'
        ;;
    esac
  done
  {
    echo "Name: $name"
    echo "Version: $version"
    echo "Release: $release"
    [ -n "${RPM_EPOCH:-}" ] && echo "Epoch: $RPM_EPOCH"
    echo "Summary: digestfs test package $name"
    echo "License: MIT"
    echo "BuildArch: noarch"
    echo "%description"
    echo "digestfs test package."
    echo "%install"
    printf '%s' "$install"
    echo "%files"
    printf '%s' "$files"
  } >"$spec"
  rpmbuild --quiet -bb "$spec" \
    --define "_topdir $top" --define "_rpmdir $T/rpms" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
    --define '__os_install_post %{nil}' --define 'debug_package %{nil}' \
    --define '_build_id_links none' >"$top/build.log" 2>&1 ||
    { cat "$top/build.log" >&2; fail "rpmbuild $name-$version-$release failed"; }
  echo "$T/rpms/$name-$version-$release.noarch.rpm"
}

rpm_sign() {
  [ -n "${RPM_KEY_FPR:-}" ] || fail "rpm_sign: call rpm_make_key first"
  GNUPGHOME=$RPM_GNUPGHOME rpmsign --define '__gpg /usr/bin/gpg' --define "_gpg_name $RPM_KEY_FPR" \
    --addsign "$1" >/dev/null 2>"$T/rpmsign.err" || { cat "$T/rpmsign.err" >&2; fail "rpmsign $1 failed"; }
}

rpm_build_signed() {
  local p
  p=$(rpm_build "$@") || exit 1
  rpm_sign "$p"
  echo "$p"
}
