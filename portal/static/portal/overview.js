// The overview's charts, drawn by the vendored ECharts from the page's JSON (no inline script, no internet).
// Clicking a bar or a point opens the filtered inventory (or showback) behind it.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("overview-data").textContent);
  var words = JSON.parse(document.getElementById("overview-labels").textContent);
  var money = function (value) { return "¥" + Number(value).toLocaleString(undefined, {minimumFractionDigits: 2}); };

  function countAndCost(items) {
    return {
      tooltip: {trigger: "axis"},
      legend: {data: [words.count, words.cost]},
      grid: {left: 50, right: 70, bottom: 80},
      xAxis: {type: "category", data: items.map(function (i) { return i.name; }), axisLabel: {rotate: items.length > 4 ? 30 : 0, interval: 0}},
      yAxis: [{type: "value", name: words.count, minInterval: 1}, {type: "value", name: words.cost, axisLabel: {formatter: money}}],
      series: [
        {name: words.count, type: "bar", data: items.map(function (i) { return {value: i.count, url: i.url}; })},
        {name: words.cost, type: "bar", yAxisIndex: 1, data: items.map(function (i) { return {value: i.cost, url: i.url}; })}
      ]
    };
  }

  function trend(items) {
    return {
      tooltip: {trigger: "axis", valueFormatter: money},
      grid: {left: 70, right: 20, bottom: 40},
      xAxis: {type: "category", data: items.map(function (i) { return i.name; })},
      yAxis: {type: "value", axisLabel: {formatter: money}},
      series: [{name: words.cost, type: "line", smooth: true, areaStyle: {opacity: 0.15},
                data: items.map(function (i) { return {value: i.cost, url: i.url}; })}]
    };
  }

  function use(items) {
    var part = function (key) { return items.map(function (i) { return {value: i[key], url: i.url}; }); };
    return {
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
      legend: {data: [words.used, words.reserved, words.free]},
      grid: {left: 200, right: 30, bottom: 30},
      xAxis: {type: "value"},
      yAxis: {type: "category", inverse: true, data: items.map(function (i) { return i.name; })},
      series: [
        {name: words.used, type: "bar", stack: "all", data: part("used"), itemStyle: {color: "#c2410c"}},
        {name: words.reserved, type: "bar", stack: "all", data: part("reserved"), itemStyle: {color: "#f59e0b"}},
        {name: words.free, type: "bar", stack: "all", data: part("free"), itemStyle: {color: "#cbd5e1"}}
      ]
    };
  }

  var build = {tiers: countAndCost, clouds: countAndCost, agencies: countAndCost, trend: trend, quotas: use, capacity: use};
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var name = element.getAttribute("data-chart");
    var chart = echarts.init(element, null, {renderer: "svg"});
    chart.setOption(build[name](data[name]));
    chart.on("click", function (params) {
      if (params.data && params.data.url) { window.location.href = params.data.url; }
    });
    element.setAttribute("data-ready", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
