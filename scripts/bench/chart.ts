/**
 * An SVG bar chart of c=1 latency percentiles per system. Hand-written: a dozen rectangles do
 * not justify a plotting stack (and its native canvas build) in the repo.
 */
import type { SystemResult } from './report.ts';

const COLORS = { p50: '#4e79a7', p99: '#f28e2b', p999: '#e15759' } as const;

export function latencyChartSvg(systems: readonly SystemResult[], title: string): string {
  const rowHeight = 54;
  const left = 250;
  const width = 900;
  const height = 60 + systems.length * rowHeight + 30;
  const max = Math.max(...systems.map((s) => s.json.p999), 0.001);
  const scale = (ms: number): number => ((width - left - 80) * ms) / max;
  const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  systems.forEach((s, i) => {
    const y = 45 + i * rowHeight;
    parts.push(`<text x="10" y="${y + 22}">${esc(s.name)}</text>`);
    (['p50', 'p99', 'p999'] as const).forEach((key, j) => {
      const ms = s.json[key];
      parts.push(
        `<rect x="${left}" y="${y + j * 15}" width="${scale(ms).toFixed(1)}" height="13" fill="${COLORS[key]}"/>`,
      );
      parts.push(`<text x="${left + scale(ms) + 4}" y="${y + j * 15 + 11}">${key} ${ms.toFixed(2)} ms</text>`);
    });
  });
  parts.push(
    `<text x="10" y="${height - 10}" fill="#666">` +
      `end-to-end latency at concurrency 1, 4 KB prompt, non-streaming (lower is better)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
