using System.IO.Compression;
using System.Text;
using NormLab.Data;
using NormLab.IO;
using NormLab.Tests.Data;
using static TorchSharp.torch;

namespace NormLab.Tests.IO;

/// <summary>
/// Deterministic fuzzing of the .npy and IDX parsers: truncations, bit flips, byte rewrites, headers
/// declaring huge sizes, garbage appended. Every mutated input must parse or end in the parser's own
/// format exception, never any other exception, crash or huge allocation (the managed bytes allocated
/// per input are measured). Fixed seeds; 10,000+ inputs per run, counted and asserted.
/// </summary>
/// <remarks>
/// Larger runs: set <c>NORMLAB_FUZZ_SCALE</c> to a multiplier of the mutations per seed, e.g.
/// <c>NORMLAB_FUZZ_SCALE=50 dotnet test --filter ParserFuzzTests</c> (about 500,000 inputs).
/// </remarks>
public class ParserFuzzTests
{
    private static readonly int MutationsPerSeed = 700 * Scale();

    /// <summary>The most managed memory one input may allocate beyond a small multiple of its length: declared sizes are
    /// checked against seekable streams and otherwise read in chunks as data arrives.</summary>
    private const long MaxAllocationPerInput = 4L << 20;

    private static int Scale() =>
        int.TryParse(Environment.GetEnvironmentVariable("NORMLAB_FUZZ_SCALE"), out int scale) && scale >= 1 ? scale : 1;

    private static byte[] NpyBytes(Tensor t)
    {
        using var s = new MemoryStream();
        Npy.Write(s, t);
        return s.ToArray();
    }

    private static IEnumerable<byte[]> NpySeeds()
    {
        yield return NpyBytes(arange(24, ScalarType.Float32).reshape(2, 3, 4));
        yield return NpyBytes(arange(10, ScalarType.Float64));
        yield return NpyBytes(arange(6, ScalarType.Int64).reshape(3, 2));
        yield return NpyBytes(tensor(3.5));
        yield return NpyBytes(zeros(0, 5));
        // version 2.0 header
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }".PadRight(117) + "\n";
        yield return new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0 }
            .Concat(BitConverter.GetBytes(header.Length)).Concat(Encoding.ASCII.GetBytes(header)).Concat(new byte[16]).ToArray();
    }

    private static IEnumerable<byte[]> IdxSeeds()
    {
        yield return IdxTests.IdxBytes(Enumerable.Range(0, 60).Select(i => (byte)i).ToArray(), 3, 4, 5);
        yield return IdxTests.IdxBytes(new byte[] { 1, 2, 3, 9 }, 4);
        yield return IdxTests.IdxBytes(new byte[784 * 2], 2, 28, 28);
    }

    /// <summary>A deterministic mutation of <paramref name="seed"/>.</summary>
    private static byte[] Mutate(byte[] seed, Random random)
    {
        var b = seed.ToArray();
        switch (random.Next(6))
        {
            case 0: return b[..random.Next(b.Length)];
            case 1:
                for (int i = 0, n = 1 + random.Next(8); i < n; i++) b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
                return b;
            case 2:
                b[random.Next(Math.Min(b.Length, 140))] = (byte)random.Next(256);
                return b;
            case 3:
            {
                // a digit of the header (npy shape) or a size byte (idx) set high: huge declared sizes
                int at = random.Next(Math.Min(b.Length, 140));
                b[at] = b[at] is >= (byte)'0' and <= (byte)'9' ? (byte)'9' : (byte)0xFF;
                var text = Encoding.Latin1.GetString(b);
                int shape = text.IndexOf("'shape': (", StringComparison.Ordinal);
                if (shape >= 0 && random.Next(2) == 0)
                    text = text[..(shape + 10)] + "99999999999, 99999999" + text[(shape + 10)..];
                return Encoding.Latin1.GetBytes(text);
            }
            case 4: return b.Concat(Enumerable.Range(0, 1 + random.Next(20)).Select(_ => (byte)random.Next(256))).ToArray();
            default:
            {
                int start = random.Next(b.Length), length = random.Next(1, 9);
                return b[..start].Concat(b[Math.Min(b.Length, start + length)..]).ToArray();
            }
        }
    }

    private static int Fuzz<TFormat>(IEnumerable<byte[]> seeds, Action<byte[]> parse, int salt, bool someParse = true) where TFormat : Exception
    {
        int count = 0, parsed = 0;
        foreach (var (seed, index) in seeds.Select((s, i) => (s, i)))
        {
            var random = new Random(salt * 1000 + index);
            for (int m = 0; m < MutationsPerSeed; m++, count++)
            {
                var input = Mutate(seed, random);
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    parse(input);
                    parsed++;
                }
                catch (TFormat e)
                {
                    Assert.False(string.IsNullOrWhiteSpace(e.Message));
                    Assert.DoesNotContain('\n', e.Message);
                }
                catch (Exception e)
                {
                    Assert.Fail($"{typeof(TFormat).Name} run {salt}: mutation {m} of seed {index} threw {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(input[..Math.Min(input.Length, 200)])}");
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated <= MaxAllocationPerInput + 16L * input.Length,
                    $"mutation {m} of seed {index} allocated {allocated} bytes for a {input.Length}-byte input");
            }
        }
        Assert.True((parsed > 0 || !someParse) && parsed < count, $"{parsed} of {count} mutations parsed: the corpus should mix valid and invalid inputs");
        return count;
    }

    /// <summary>The whole fuzz plan, run in one test so the total of mutated inputs is asserted: at least 10,000.</summary>
    [Fact]
    public void All_parsers_survive_at_least_10000_mutated_inputs()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int total = 0;
        total += Fuzz<NpyFormatException>(NpySeeds(), bytes => Npy.Read(new MemoryStream(bytes), "fuzz.npy").Dispose(), 1);
        total += Fuzz<NpyFormatException>(NpySeeds().Take(3), bytes => Npy.Read(new ForwardOnlyStream(bytes), "fuzz.npy").Dispose(), 2);
        total += Fuzz<IdxFormatException>(IdxSeeds(), bytes => Idx.Read(new MemoryStream(bytes), "fuzz.idx").Dispose(), 3);
        total += Fuzz<IdxFormatException>(IdxSeeds().Select(Gzip), bytes =>
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            Idx.Read(gzip, "fuzz.idx.gz").Dispose();
        }, 4);
        total += Fuzz<CheckpointException>(CheckpointSeeds(), bytes => Checkpoint.Parse(bytes, "fuzz.ckpt"), 5, someParse: false);
        Assert.Equal((6 + 3 + 3 + 3 + 2) * MutationsPerSeed, total);
        Assert.True(total >= 10_000, $"{total} mutated inputs");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20 * Scale()), $"{total} inputs took {watch.Elapsed.TotalSeconds:F1} s");
    }

    private static IEnumerable<byte[]> CheckpointSeeds()
    {
        manual_seed(3);
        var c = NormLab.IO.Checkpoint.Of(TorchSharp.torch.nn.Linear(3, 2));
        c.Metadata["step"] = "1";
        using var s = new MemoryStream();
        c.Write(s);
        yield return s.ToArray();
        var empty = new NormLab.IO.Checkpoint();
        using var e = new MemoryStream();
        empty.Write(e);
        yield return e.ToArray();
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return output.ToArray();
    }

    /// <summary>A stream that cannot seek or report its length, like a pipe.</summary>
    private sealed class ForwardOnlyStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
