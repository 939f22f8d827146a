using NormLab.Cli.Bench;
using NormLab.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab bench</c>: times forward, backward and forward+backward of every registry normalizer
/// (NormLab's automatic kernel choice, LibTorch's native op where one exists, the composite reference)
/// and compares them with the memory-bandwidth floor measured in the same run. <c>--reference SPEC</c> also
/// times that normalizer in every row's repetitions, for ratios between normalizers (whitening against BN).
/// </summary>
internal static class BenchCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("bench", args, new HashSet<string>());
        string? only = cl.Get("only");
        string? shapeText = cl.Get("shape");
        long threads = cl.GetLong("threads") ?? get_num_threads();
        long repeat = cl.GetLong("repeat") ?? 10;
        string? jsonPath = cl.Get("json");
        string? referenceSpec = cl.Get("reference");
        cl.EnsureAllUsed();
        if (threads < 1) throw new UsageException($"bench: --threads must be at least 1, got {threads}");
        if (repeat < 1) throw new UsageException($"bench: --repeat must be at least 1, got {repeat}");
        var shape = shapeText is null ? null : ParseShape(shapeText);
        var specs = only is null ? null : SplitSpecs(only);
        specs?.ForEach(BenchTargets.Check);
        if (referenceSpec is not null) BenchTargets.Check(referenceSpec);
        if (jsonPath is not null) CheckWritable(jsonPath);

        var cases = specs is null
            ? BenchTargets.Defaults(shape)
            : specs.Select(s => (Spec: s, Shape: shape ?? BenchTargets.ImageShape)).ToList();
        int previousThreads = get_num_threads();
        set_num_threads((int)threads);
        try
        {
            // Warm-up runs: the first runs of each implementation fault in fresh pages for its buffers.
            int warmup = repeat == 1 ? 1 : 3;
            var generator = new Generator(2024);
            using var probe = new CopyProbe();
            BenchReport.Header(stdout, BenchRunner.CopyBandwidth(probe, warmup, (int)Math.Max(repeat, 5)), (int)threads, (int)repeat, referenceSpec);
            var rows = new List<BenchRow>();
            using var references = new ReferenceTargets(referenceSpec, generator, stdout);
            foreach (var (spec, caseShape) in cases)
            {
                BenchTarget target;
                try
                {
                    target = BenchTargets.Create(spec, caseShape, generator);
                }
                catch (ArgumentException e) when (specs is null)
                {
                    stdout.WriteLine($"{spec,-22} skipped: {Cli.OneLine(e.Message)}");
                    continue;
                }
                using (target)
                    foreach (var row in BenchRunner.Run(target, warmup, (int)repeat, probe, generator, references.For(caseShape)))
                    {
                        rows.Add(row);
                        BenchReport.Line(stdout, row);
                    }
            }
            if (jsonPath is not null)
            {
                AtomicFile.WriteText(jsonPath, BenchReport.Json(rows, referenceSpec));
                stdout.WriteLine($"bench: wrote {jsonPath}");
            }
            return 0;
        }
        finally
        {
            set_num_threads(previousThreads);
        }
    }

    /// <summary>The reference normalizer's target per shape, built on first use; null where there is no reference or it cannot run on a shape.</summary>
    private sealed class ReferenceTargets(string? spec, Generator generator, TextWriter stdout) : IDisposable
    {
        private readonly Dictionary<string, BenchTarget?> _byShape = new();

        public BenchTarget? For(long[] shape)
        {
            if (spec is null) return null;
            string key = string.Join(",", shape);
            if (_byShape.TryGetValue(key, out var known)) return known;
            BenchTarget? target = null;
            try
            {
                target = BenchTargets.Create(spec, shape, generator);
            }
            catch (ArgumentException e)
            {
                stdout.WriteLine($"reference {spec} skipped on [{key}]: {Cli.OneLine(e.Message)}");
            }
            _byShape[key] = target;
            return target;
        }

        public void Dispose()
        {
            foreach (var target in _byShape.Values) target?.Dispose();
        }
    }

    /// <summary>Parses N,C,H,W (at least 2 positive sizes).</summary>
    internal static long[] ParseShape(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var shape = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], out shape[i]) || shape[i] < 1)
                throw new UsageException($"bench: --shape must be positive integers separated by commas (N,C,H,W), got '{text}'");
        if (shape.Length < 2)
            throw new UsageException($"bench: --shape needs at least 2 dims (N,C,...), got '{text}'");
        return shape;
    }

    /// <summary>Splits a list of specs at the commas outside parentheses: "bn,gn(groups=8,eps=1e-5)".</summary>
    internal static List<string> SplitSpecs(string text)
    {
        var specs = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] == '(') depth++;
            else if (i < text.Length && text[i] == ')') depth--;
            else if (i == text.Length || (text[i] == ',' && depth == 0))
            {
                var spec = text[start..i].Trim();
                if (spec.Length == 0) throw new UsageException($"bench: --only has an empty spec in '{text}'");
                specs.Add(spec);
                start = i + 1;
            }
        }
        return specs;
    }

    private static void CheckWritable(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir))
            throw new IOException($"--json: directory '{dir}' does not exist");
    }
}
