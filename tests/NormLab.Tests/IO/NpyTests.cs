using System.Text;
using NormLab.IO;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.IO;

/// <summary>.npy round trips, NumPy-written bytes, and clear errors for malformed files.</summary>
public class NpyTests
{
    private static byte[] Bytes(Tensor t)
    {
        using var s = new MemoryStream();
        Npy.Write(s, t);
        return s.ToArray();
    }

    private static Tensor Parse(byte[] bytes) => Npy.Read(new MemoryStream(bytes), "test.npy");

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Int64)]
    public void Round_trips_each_dtype_and_rank(ScalarType dtype)
    {
        foreach (var shape in new[] { Array.Empty<long>(), new long[] { 5 }, new long[] { 2, 3 }, new long[] { 2, 0, 3 }, new long[] { 2, 3, 4, 5, 1 } })
        {
            var t = (arange(shape.Aggregate(1L, (a, b) => a * b), ScalarType.Float64) * 1.5 - 3).to(dtype).reshape(shape);
            var back = Parse(Bytes(t));
            Assert.Equal(dtype, back.dtype);
            Assert.Equal(shape, back.shape);
            Assert.True(TensorAssert.Same(t, back));
        }
    }

    [Fact]
    public void Writes_numpy_compatible_headers_and_reads_non_contiguous_tensors()
    {
        var t = arange(6, ScalarType.Float32).reshape(2, 3).t();
        var bytes = Bytes(t);
        Assert.Equal(0, (bytes.Length - 6 * 4) % 64);
        string header = Encoding.Latin1.GetString(bytes, 10, BitConverter.ToUInt16(bytes, 8));
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", header);
        Assert.EndsWith("\n", header);
        Assert.True(TensorAssert.Same(Parse(bytes), t.contiguous()));
    }

    [Fact]
    public void Reads_a_file_as_numpy_writes_it()
    {
        // np.save of np.array([[1.5, -2.0]], dtype='<f8') with format 1.0
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }";
        header = header.PadRight(118 - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
        bytes.AddRange(new byte[] { 1, 0, (byte)header.Length, 0 });
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(BitConverter.GetBytes(1.5));
        bytes.AddRange(BitConverter.GetBytes(-2.0));
        var t = Parse(bytes.ToArray());
        Assert.Equal(new long[] { 1, 2 }, t.shape);
        Assert.Equal(new[] { 1.5, -2.0 }, t.data<double>().ToArray());
    }

    public static TheoryData<string, byte[], string> Malformed()
    {
        byte[] good = Bytes(ones(3, 4));
        byte[] With(string header, int dataBytes)
        {
            header = header.PadRight((header.Length + 11) / 64 * 64 + 63 - 10) + "\n";
            var b = new List<byte> { 0x93 };
            b.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
            b.AddRange(new byte[] { 1, 0 });
            b.AddRange(BitConverter.GetBytes((ushort)header.Length));
            b.AddRange(Encoding.ASCII.GetBytes(header));
            b.AddRange(new byte[dataBytes]);
            return b.ToArray();
        }
        return new TheoryData<string, byte[], string>
        {
            { "fortran", With("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", 48), "Fortran-order" },
            { "int32", With("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 12), "dtype '<i4' is not supported" },
            { "big-endian", With("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", 24), "dtype '>f8'" },
            { "truncated data", good[..^5], "truncated" },
            { "truncated header", good[..20], "truncated" },
            { "empty", Array.Empty<byte>(), "truncated" },
            { "not npy", Encoding.ASCII.GetBytes("hello world, not numpy"), "not a .npy file" },
            { "bad version", good.Select((b, i) => i == 6 ? (byte)9 : b).ToArray(), "version 9" },
            { "huge shape", With("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 100000000000), }", 8), "too large" },
            { "huge but fits long", With("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }", 8), "needs 8000000000000 data bytes" },
            { "bad shape entry", With("{'descr': '<f8', 'fortran_order': False, 'shape': (3, x), }", 8), "not a non-negative integer" },
            { "missing keys", With("{'descr': '<f8'}", 8), "lacks 'fortran_order' 'shape'" },
            { "extra data", good.Concat(new byte[] { 1, 2, 3 }).ToArray(), "needs 48 data bytes, but the file has 51" },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_give_a_clear_error(string name, byte[] bytes, string fragment)
    {
        _ = name;
        var e = Assert.Throws<NpyFormatException>(() => Parse(bytes));
        Assert.Contains(fragment, e.Message);
        Assert.Contains("test.npy", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Writing_an_unsupported_dtype_is_an_error()
    {
        var e = Assert.Throws<ArgumentException>(() => Bytes(ones(2, ScalarType.Int32)));
        Assert.Contains("Int32", e.Message);
    }
}
