# Homebrew formula for rximg, built from a release tarball (`make dist`).
# On macOS, `rximg mount` is built when macFUSE 4.10 or newer (which ships
# libfuse3) is installed; everything else works without it.
class Rximg < Formula
  desc "Look inside, check and change Redox OS disk images without mounting them"
  # Filled in for each release: where its tarball is published, and its sha256.
  homepage "RELEASE-PAGE"
  url "RELEASE-PAGE/rximg-0.1.0.tar.gz"
  version "0.1.0"
  sha256 "SHA256-OF-rximg-0.1.0.tar.gz"

  depends_on "pkgconf" => :build
  depends_on "argon2"
  depends_on "lz4"
  depends_on "openssl@3"
  uses_from_macos "zlib"

  on_linux do
    depends_on "libfuse"
    depends_on "util-linux" # libblkid (optional)
  end

  def install
    system "./configure", *std_configure_args,
                          "--with-bash-completion-dir=#{bash_completion}",
                          "--with-zsh-completion-dir=#{zsh_completion}"
    system "make"
    system "make", "install"
  end

  test do
    system bin/"rximg", "--version"
    system bin/"rximg", "mkfs", "-s", "8M", testpath/"t.img"
    system bin/"rximg", "mkdir", "#{testpath}/t.img:/etc"
    assert_match "etc", shell_output("#{bin}/rximg ls #{testpath}/t.img:/")
    system bin/"rximg", "check", testpath/"t.img"
  end
end
