# Sourced by the fleet benchmarks: one OpenSSH sshd on a free loopback port, serving many named
# hosts at once, its host key in $work/known_hosts and $work/key authorized, for the login
# $user (as root, a dedicated one with /bin/sh as its shell, so no tool is timed against
# root's ~/.bashrc, which sshd makes bash read for every session). Needs $work; sets $port and
# $user; the sshd is stopped when the script exits.
#   bench_sshd MAX_STARTUPS
bench_sshd() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ssh-keygen -q -t ed25519 -N "" -f "$work/host_key"
  ssh-keygen -q -t ed25519 -N "" -f "$work/key"
  cp "$work/key.pub" "$work/authorized_keys"
  mkdir -p /run/sshd
  cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin yes
PidFile $work/sshd.pid
LogLevel ERROR
MaxSessions $1
MaxStartups $1
CONF
  /usr/sbin/sshd -f "$work/sshd_config"
  trap 'kill $(cat "$work/sshd.pid") 2>/dev/null || true' EXIT
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
  user=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    user=tendbench
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$user"
    usermod -p '*' "$user"   # no password, but not locked: sshd refuses locked accounts
  fi
}
