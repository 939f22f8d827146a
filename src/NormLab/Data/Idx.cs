using System.Buffers.Binary;
using System.IO.Compression;
using NormLab.IO;
using static TorchSharp.torch;

namespace NormLab.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type 0x08 = unsigned byte, rank),
/// then rank big-endian int32 sizes, then the data. Files may be gzip-compressed (".gz").
/// </summary>
/// <remarks>
/// Reading never trusts the header: the declared size is capped and, for a seekable stream, checked
/// against the bytes left before anything is read; the data is read in chunks as it
/// arrives (a corrupt header declaring a huge array allocates nothing of that size), and the data must
/// end exactly where the header says. Every problem is an <see cref="IdxFormatException"/>.
/// </remarks>
public static class Idx
{
    /// <summary>The largest data size accepted, in bytes (1 GiB; Fashion-MNIST's training images are 47 MB).</summary>
    public const long MaxDataBytes = 1L << 30;

    /// <summary>Reads an unsigned-byte IDX file (gzip-compressed when the name ends in .gz) as a uint8 tensor.</summary>
    /// <exception cref="IdxFormatException">a malformed, truncated or oversized file.</exception>
    /// <exception cref="IOException">the file cannot be read.</exception>
    public static Tensor Read(string path)
    {
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        return Read(stream, path);
    }

    /// <summary>Reads an unsigned-byte IDX record from an uncompressed stream.</summary>
    public static Tensor Read(Stream stream, string name)
    {
        try
        {
            var magic = new byte[4];
            ReadExactly(stream, magic, name, "the 4-byte magic number");
            if (magic[0] != 0 || magic[1] != 0)
                throw new IdxFormatException($"{name}: not an IDX file (magic {Convert.ToHexString(magic)} should start with 0000)");
            if (magic[2] != 0x08)
                throw new IdxFormatException($"{name}: IDX data type 0x{magic[2]:X2} is not supported (only 0x08, unsigned byte)");
            int rank = magic[3];
            if (rank is < 1 or > 4)
                throw new IdxFormatException($"{name}: IDX rank {rank} is not supported (1 to 4)");
            var dims = new byte[4 * rank];
            ReadExactly(stream, dims, name, $"{rank} dimension sizes");
            var shape = new long[rank];
            long bytes = 1;
            for (int i = 0; i < rank; i++)
            {
                shape[i] = BinaryPrimitives.ReadUInt32BigEndian(dims.AsSpan(4 * i));
                bytes = shape[i] == 0 ? 0 : bytes > MaxDataBytes / shape[i] ? MaxDataBytes + 1 : bytes * shape[i];
            }
            if (bytes > MaxDataBytes)
                throw new IdxFormatException($"{name}: shape ({string.Join(", ", shape)}) declares more than {MaxDataBytes} bytes (corrupt header?)");
            if (stream.CanSeek && stream.Length - stream.Position < bytes)
                throw new IdxFormatException($"{name}: data ends after {stream.Length - stream.Position} of {bytes} bytes for shape ({string.Join(", ", shape)}) (truncated)");
            var data = StreamReads.Chunked(stream, bytes, read =>
                new IdxFormatException($"{name}: data ends after {read} of {bytes} bytes for shape ({string.Join(", ", shape)}) (truncated)"));
            var buffer = new byte[1];
            if (stream.Read(buffer, 0, 1) != 0)
                throw new IdxFormatException($"{name}: data continues past the {bytes} bytes the header declares (corrupt)");
            var result = empty(shape, ScalarType.Byte);
            if (bytes > 0) result.bytes = data.AsSpan(0, (int)bytes);
            return result;
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException($"{name}: the gzip stream is corrupt ({e.Message.TrimEnd('.')})");
        }
    }

    private static void ReadExactly(Stream stream, byte[] buffer, string name, string what) =>
        StreamReads.Exactly(stream, buffer, read => new IdxFormatException($"{name}: file ends after {read} of {buffer.Length} bytes of {what} (truncated)"));
}

/// <summary>An IDX file that is malformed, truncated, oversized or of an unsupported kind.</summary>
public sealed class IdxFormatException(string message) : FormatException(message);
