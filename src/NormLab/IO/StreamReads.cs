namespace NormLab.IO;

/// <summary>
/// Reads of an exact number of bytes from untrusted streams, for the file parsers: the caller supplies
/// the exception for a stream that ends early, and large payloads are read in chunks as they arrive,
/// so a header that declares a huge size allocates nothing of that size.
/// </summary>
internal static class StreamReads
{
    private const int Chunk = 1 << 20;

    /// <summary>Fills <paramref name="buffer"/>; <paramref name="truncated"/>(bytes read) is thrown if the stream ends first.</summary>
    public static void Exactly(Stream stream, byte[] buffer, Func<long, Exception> truncated)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0) throw truncated(read);
            read += n;
        }
    }

    /// <summary>Reads <paramref name="bytes"/> bytes in chunks; <paramref name="truncated"/>(bytes read) is thrown if the stream ends first.</summary>
    public static byte[] Chunked(Stream stream, long bytes, Func<long, Exception> truncated)
    {
        var data = new MemoryStream((int)Math.Min(bytes, Chunk));
        var chunk = new byte[(int)Math.Min(bytes, Chunk)];
        long remaining = bytes;
        while (remaining > 0)
        {
            int n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, remaining));
            if (n == 0) throw truncated(bytes - remaining);
            data.Write(chunk, 0, n);
            remaining -= n;
        }
        return data.Length == data.Capacity ? data.GetBuffer() : data.ToArray();
    }
}
