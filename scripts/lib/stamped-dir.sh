# Helpers for scripts that build a directory once per input "stamp" and
# replace it atomically, so DEST is always either the old complete tree or the
# new one. Source it; then:
#   stamped_dir_current DEST STAMP   -> exit status 0 when DEST was built from STAMP
#   work=$(stamped_dir_begin DEST)   -> a fresh work dir beside DEST (removed on exit)
#   stamped_dir_commit WORK DEST STAMP
stamped_dir_current() {
  [ -f "$1/.krunbox-bundled" ] && [ "$(cat "$1/.krunbox-bundled")" = "$2" ]
}

stamped_dir_begin() {
  local parent
  parent=$(dirname "$1")
  mkdir -p "$parent"
  mktemp -d "$parent/.$(basename "$1").XXXXXX"
}

stamped_dir_commit() {
  local work=$1 dest=$2 stamp=$3
  echo "$stamp" > "$work/.krunbox-bundled"
  if [ -e "$dest" ]; then
    local old="$dest.old.$$"
    mv "$dest" "$old"
    mv "$work" "$dest"
    rm -rf "$old"
  else
    mv "$work" "$dest"
  fi
}
