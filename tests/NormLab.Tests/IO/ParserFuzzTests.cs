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
/// format exception, never any other exception, crash or huge allocation. 10,000+ inputs per run.
/// </summary>
public class ParserFuzzTests
{
    private const int MutationsPerSeed = 700;

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

    private static int Fuzz<TFormat>(IEnumerable<byte[]> seeds, Action<byte[]> parse, int salt) where TFormat : Exception
    {
        int count = 0, parsed = 0;
        foreach (var (seed, index) in seeds.Select((s, i) => (s, i)))
        {
            var random = new Random(salt * 1000 + index);
            for (int m = 0; m < MutationsPerSeed; m++, count++)
            {
                var input = Mutate(seed, random);
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
                    Assert.Fail($"mutation {m} of seed {index} threw {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(input[..Math.Min(input.Length, 200)])}");
                }
            }
        }
        Assert.True(parsed > 0 && parsed < count, $"{parsed} of {count} mutations parsed: the corpus should mix valid and invalid inputs");
        return count;
    }

    [Fact]
    public void Npy_parser_survives_mutated_files()
    {
        int n = Fuzz<NpyFormatException>(NpySeeds(), bytes => Npy.Read(new MemoryStream(bytes), "fuzz.npy").Dispose(), 1);
        Assert.True(n >= 4000, $"{n} inputs");
    }

    [Fact]
    public void Npy_parser_survives_mutated_non_seekable_streams()
    {
        int n = Fuzz<NpyFormatException>(NpySeeds().Take(3), bytes => Npy.Read(new ForwardOnlyStream(bytes), "fuzz.npy").Dispose(), 2);
        Assert.True(n >= 2000, $"{n} inputs");
    }

    [Fact]
    public void Idx_parser_survives_mutated_raw_and_gzip_files()
    {
        int n = Fuzz<IdxFormatException>(IdxSeeds(), bytes => Idx.Read(new MemoryStream(bytes), "fuzz.idx").Dispose(), 3);
        int gz = Fuzz<IdxFormatException>(IdxSeeds().Select(Gzip), bytes =>
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            Idx.Read(gzip, "fuzz.idx.gz").Dispose();
        }, 4);
        Assert.True(n + gz >= 4000, $"{n + gz} inputs");
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
