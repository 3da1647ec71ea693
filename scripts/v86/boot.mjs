// Boots a Linux bzImage and initrd in v86 under Node with the serial
// console on stdout (scripts/linux-boot-timing.sh times it):
//   node scripts/v86/boot.mjs KERNEL INITRD CMDLINE MEM_MIB
// v86 comes from scripts/v86/setup.sh (target/tools/v86), the BIOS images
// from Debian's seabios package.
import fs from "node:fs";
import path from "node:path";

const [kernel, initrd, cmdline, memMiB] = process.argv.slice(2);
if (!memMiB) {
  console.error("usage: node scripts/v86/boot.mjs KERNEL INITRD CMDLINE MEM_MIB");
  process.exit(2);
}
const build = path.resolve("target/tools/v86/node_modules/v86/build");
const { V86 } = await import(path.join(build, "libv86.mjs"));
const file = (p) => {
  const b = fs.readFileSync(p);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
};
const emulator = new V86({
  wasm_path: path.join(build, "v86.wasm"),
  memory_size: Number(memMiB) * 1024 * 1024,
  bios: { buffer: file("/usr/share/seabios/bios.bin") },
  vga_bios: { buffer: file("/usr/share/seabios/vgabios-stdvga.bin") },
  bzimage: { buffer: file(kernel) },
  initrd: { buffer: file(initrd) },
  cmdline,
  autostart: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_speaker: true,
});
emulator.add_listener("serial0-output-byte", (byte) => {
  process.stdout.write(Buffer.from([byte]));
});
process.stdin.on("data", (data) => emulator.serial0_send(data.toString("latin1")));
process.stdin.on("end", () => {});
