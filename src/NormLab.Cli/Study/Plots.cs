using ScottPlot;

namespace NormLab.Cli.Study;

/// <summary>Renders figures to PNG with ScottPlot: labelled axes, a legend, log scales where asked.</summary>
internal static class Plots
{
    private static readonly Color[] Palette = new ScottPlot.Palettes.Category10().Colors;

    /// <summary>Renders <paramref name="figure"/> to <paramref name="path"/> (800×500).</summary>
    public static void Render(Figure figure, string path)
    {
        var plot = new Plot();
        plot.Title(figure.Title);
        plot.XLabel(figure.XLabel);
        plot.YLabel(figure.YLabel);
        if (figure.Kind == FigureKind.Bars) Bars(plot, figure);
        else Lines(plot, figure);
        if (figure.Series.Count > 1 || figure.Kind == FigureKind.Bars)
        {
            plot.ShowLegend(Edge.Right);
        }
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 900, 520);
        File.Move(tmp, path, overwrite: true);
    }

    private static void Lines(Plot plot, Figure figure)
    {
        for (int i = 0; i < figure.Series.Count; i++)
        {
            var s = figure.Series[i];
            var points = s.X.Zip(s.Y).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)
                && (!figure.LogX || p.First > 0) && (!figure.LogY || p.Second > 0)).ToArray();
            if (points.Length == 0) continue;
            var xs = points.Select(p => figure.LogX ? Math.Log10(p.First) : p.First).ToArray();
            var ys = points.Select(p => figure.LogY ? Math.Log10(p.Second) : p.Second).ToArray();
            var scatter = plot.Add.Scatter(xs, ys, Palette[i % Palette.Length]);
            scatter.LegendText = s.Label;
            scatter.MarkerSize = points.Length > 60 ? 0 : 5;
            scatter.LineWidth = 2;
        }
        if (figure.LogX) plot.Axes.Bottom.TickGenerator = LogTicks();
        if (figure.LogY) plot.Axes.Left.TickGenerator = LogTicks();
        if (figure.XTicks is { } labels)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                figure.Series[0].X.Select((x, i) => new Tick(figure.LogX ? Math.Log10(x) : x, labels[i], true)).ToArray());
    }

    private static void Bars(Plot plot, Figure figure)
    {
        int groups = figure.Series.Max(s => s.Y.Length);
        int n = figure.Series.Count;
        double width = 0.8 / n;
        for (int i = 0; i < n; i++)
        {
            var s = figure.Series[i];
            var bars = new List<Bar>();
            for (int g = 0; g < s.Y.Length; g++)
                if (double.IsFinite(s.Y[g]))
                    bars.Add(new Bar { Position = g + (i - (n - 1) / 2.0) * width, Value = s.Y[g], Size = width * 0.95, FillColor = Palette[i % Palette.Length] });
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = s.Label;
        }
        var labels = figure.XTicks ?? Enumerable.Range(0, groups).Select(g => figure.Series[0].X[g].ToString("G4")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            labels.Select((l, g) => new Tick(g, l, true)).ToArray());
        plot.Axes.Margins(bottom: 0);
    }

    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = y => $"1e{y:N0}",
    };
}
