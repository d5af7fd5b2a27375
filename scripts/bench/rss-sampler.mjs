/**
 * `node scripts/bench/rss-sampler.mjs PID`: peak resident set size of PID, in MB, from /proc
 * (Linux), measured from a process of its own so a busy load driver cannot miss peaks. Reads
 * VmRSS every 100 ms; prints `ready` once sampling and, when its stdin closes, the peak, then exits. It also resets the
 * kernel's high-water mark (clear_refs 5) at the start and takes VmHWM at the end, which catches
 * peaks between samples; where the reset is not allowed, the samples alone count.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const pid = process.argv[2];
const kb = (field) => {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // the process has gone
  }
};
let hwm = true;
try {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
} catch {
  hwm = false;
}
let peak = kb('VmRSS');
const timer = setInterval(() => (peak = Math.max(peak, kb('VmRSS'))), 100);
process.stdout.write('ready\n');
process.stdin.resume().on('end', () => {
  clearInterval(timer);
  peak = Math.max(peak, kb('VmRSS'), hwm ? kb('VmHWM') : 0);
  process.stdout.write(`${Math.round(peak / 1024)}\n`);
});
