/* global document, Chart */
// The console's usage chart (served at /sluice/console/assets/usage-chart.js, after Chart.js): drawn
// from the JSON the page carries, so it shows exactly the rows of the table beside it and makes no
// request of its own. Per budget key and window length: tokens used per window as bars, oldest
// first, and the token limit as a dashed line where one is known.
(function drawUsageChart() {
  const source = document.getElementById('usage-data');
  const canvas = document.getElementById('usage-chart');
  if (!source || !canvas) return;
  const rows = JSON.parse(source.textContent).slice().reverse();
  const named = { 60: 'minute', 3600: 'hour', 86400: 'day', 2592000: 'month' };
  const labels = [...new Set(rows.map((r) => r.window_start))].sort();
  const series = new Map();
  for (const row of rows) {
    const name = `${row.key} (${named[row.window_seconds] ?? `${row.window_seconds} s`})`;
    if (!series.has(name)) series.set(name, []);
    series.get(name).push(row);
  }
  const datasets = [];
  for (const [name, list] of series) {
    datasets.push({
      type: 'bar',
      label: `${name} tokens`,
      data: list.map((r) => ({ x: r.window_start, y: r.tokens })),
      maxBarThickness: 48,
    });
    const limits = list.map((r) => r.limit_tokens).filter((v) => v !== null);
    if (limits.length > 0) {
      // Far above the bars, the limit would flatten them to nothing: then it starts hidden (its legend entry shows it).
      const peak = Math.max(...list.map((r) => r.tokens));
      datasets.push({
        type: 'line',
        label: `${name} limit`,
        data: list.map((r) => ({ x: r.window_start, y: r.limit_tokens })),
        borderDash: [6, 4],
        pointRadius: 3,
        hidden: peak < Math.max(...limits) / 10,
      });
    }
  }
  new Chart(canvas, {
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, title: { display: true, text: 'tokens' } } },
    },
  });
  document.body.dataset.chart = 'ready';
})();
