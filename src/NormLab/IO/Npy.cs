using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace NormLab.IO;

/// <summary>
/// NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0) to and from tensors: little-endian
/// float32 (<c>&lt;f4</c>), float64 (<c>&lt;f8</c>) and int64 (<c>&lt;i8</c>), C order.
/// </summary>
/// <remarks>
/// Reading never trusts the header: the declared shape must match the bytes that follow exactly, so a
/// corrupt or truncated file, or a header declaring a huge array, fails with <see cref="NpyFormatException"/>
/// before anything is allocated for the data.
/// </remarks>
public static class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };
    private const int MaxHeaderLength = 1 << 20;

    /// <summary>Reads a tensor from a file.</summary>
    /// <exception cref="NpyFormatException">the file is not a supported, intact .npy file.</exception>
    /// <exception cref="IOException">the file cannot be read.</exception>
    public static Tensor Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads a tensor from a stream positioned at the start of a .npy record.</summary>
    public static Tensor Read(Stream stream, string name = "stream")
    {
        var prefix = new byte[10];
        ReadExactly(stream, prefix, name, "the 10-byte preamble");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
            throw new NpyFormatException($"{name}: not a .npy file (the magic string \\x93NUMPY is missing)");
        byte major = prefix[6];
        int headerLength;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
                break;
            case 2:
            case 3:
                var more = new byte[2];
                ReadExactly(stream, more, name, "the header length");
                uint len = BinaryPrimitives.ReadUInt32LittleEndian(new[] { prefix[8], prefix[9], more[0], more[1] });
                if (len > MaxHeaderLength)
                    throw new NpyFormatException($"{name}: header length {len} exceeds the limit of {MaxHeaderLength} bytes");
                headerLength = (int)len;
                break;
            default:
                throw new NpyFormatException($"{name}: .npy format version {major}.{prefix[7]} is not supported (1.0, 2.0 and 3.0 are)");
        }
        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, name, $"the {headerLength}-byte header");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (descr, fortran, shape) = ParseHeader(header, name);
        if (fortran)
            throw new NpyFormatException($"{name}: Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)");
        var (dtype, itemSize) = descr switch
        {
            "<f4" => (ScalarType.Float32, 4),
            "<f8" => (ScalarType.Float64, 8),
            "<i8" => (ScalarType.Int64, 8),
            _ => throw new NpyFormatException($"{name}: dtype '{descr}' is not supported; supported: '<f4' (float32), '<f8' (float64), '<i8' (int64)"),
        };
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new NpyFormatException($"{name}: negative dimension {d} in shape");
            if (d != 0 && count > long.MaxValue / itemSize / d)
                throw new NpyFormatException($"{name}: shape ({string.Join(", ", shape)}) is too large");
            count *= d;
        }
        long bytes = count * itemSize;
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining != bytes)
                throw new NpyFormatException($"{name}: shape ({string.Join(", ", shape)}) of {descr} needs {bytes} data bytes, but the file has {remaining} (truncated or corrupt)");
        }
        if (bytes > Array.MaxLength)
            throw new NpyFormatException($"{name}: {bytes} data bytes exceed the largest supported array");
        var data = ReadData(stream, bytes, name, shape);
        var result = empty(shape, dtype);
        if (bytes > 0) result.bytes = data;
        return result;
    }

    /// <summary>Writes a tensor (float32, float64 or int64; any layout, any device) as a C-order .npy file, atomically (a failed write leaves no partial file and keeps the previous one).</summary>
    /// <exception cref="ArgumentException">an unsupported dtype.</exception>
    public static void Write(string path, Tensor tensor) => AtomicFile.Write(path, stream => Write(stream, tensor));

    /// <summary>Writes a tensor as a .npy record to a stream.</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        string descr = tensor.dtype switch
        {
            ScalarType.Float32 => "<f4",
            ScalarType.Float64 => "<f8",
            ScalarType.Int64 => "<i8",
            _ => throw new ArgumentException($"tensor dtype {tensor.dtype} cannot be written; supported: Float32, Float64, Int64", nameof(tensor)),
        };
        using var contiguous = tensor.detach().cpu().contiguous();
        string shape = tensor.dim() switch
        {
            0 => "()",
            1 => $"({tensor.shape[0]},)",
            _ => "(" + string.Join(", ", tensor.shape) + ")",
        };
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + dict.Length + 1;
        int pad = (64 - total % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        if (header.Length > ushort.MaxValue)
            throw new ArgumentException($"tensor of rank {tensor.dim()} needs a header too long for format 1.0", nameof(tensor));
        var pre = new byte[10];
        Magic.CopyTo(pre, 0);
        pre[6] = 1;
        pre[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(pre.AsSpan(8), (ushort)header.Length);
        stream.Write(pre);
        stream.Write(Encoding.Latin1.GetBytes(header));
        if (contiguous.numel() > 0) stream.Write(contiguous.bytes);
    }

    private static readonly Regex DescrRe = new(@"'descr'\s*:\s*'([^']*)'", RegexOptions.CultureInvariant);
    private static readonly Regex FortranRe = new(@"'fortran_order'\s*:\s*(True|False)", RegexOptions.CultureInvariant);
    private static readonly Regex ShapeRe = new(@"'shape'\s*:\s*\(([^)]*)\)", RegexOptions.CultureInvariant);

    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string header, string name)
    {
        var h = header.Trim();
        if (!h.StartsWith('{') || !h.EndsWith('}'))
            throw new NpyFormatException($"{name}: header is not a Python dict literal");
        var d = DescrRe.Match(h);
        var f = FortranRe.Match(h);
        var s = ShapeRe.Match(h);
        if (!d.Success || !f.Success || !s.Success)
            throw new NpyFormatException($"{name}: header lacks {(d.Success ? "" : "'descr' ")}{(f.Success ? "" : "'fortran_order' ")}{(s.Success ? "" : "'shape'")}".TrimEnd());
        var parts = s.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 32)
            throw new NpyFormatException($"{name}: rank {parts.Length} exceeds the supported maximum of 32");
        var shape = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i].TrimEnd('L');
            if (!long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
                throw new NpyFormatException($"{name}: shape entry '{parts[i]}' is not a non-negative integer");
        }
        return (d.Groups[1].Value, f.Groups[1].Value == "True", shape);
    }

    private static byte[] ReadData(Stream stream, long bytes, string name, long[] shape) =>
        StreamReads.Chunked(stream, bytes, read => new NpyFormatException($"{name}: file ends after {read} of {bytes} data bytes for shape ({string.Join(", ", shape)}) (truncated)"));

    private static void ReadExactly(Stream stream, byte[] buffer, string name, string what) =>
        StreamReads.Exactly(stream, buffer, read => new NpyFormatException($"{name}: file ends after {read} of {buffer.Length} bytes of {what} (truncated)"));
}

/// <summary>A .npy file that is malformed, truncated or of an unsupported kind.</summary>
public sealed class NpyFormatException(string message) : FormatException(message);
