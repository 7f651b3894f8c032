#!/usr/bin/env bash
# Builds `vigil-test:latest`, the tiny image the Docker tests run: Debian's static
# busybox serving /www over HTTP on port 8080. There is no registry here, so the image is
# imported from a rootfs made on the spot. Rebuilt only when missing.
set -euo pipefail
image=vigil-test:latest
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
# Debian's busybox-static (scripts/test.sh installs it): one file, no libraries.
bb=/bin/busybox
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www" "$root/tmp"
cp "$bb" "$root/bin/busybox"
for app in sh httpd sleep wget nc cat echo true false kill; do
  ln -s busybox "$root/bin/$app"
done
echo ok >"$root/www/health"
tar -C "$root" -c . | docker import \
  --change 'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]' \
  --change 'EXPOSE 8080' \
  --change 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]' \
  - "$image" >/dev/null
echo "built $image"
