// Parse AsyncAPI documents with the official parser, Avro payloads included; print one JSON line per
// file: {"file", "errors": [...], "channels": {channelId: address}}. Exit 0 even when a file is invalid:
// the Python test reads the report and says which file failed and why.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const avro = AvroSchemaParser();
const parser = new Parser({ schemaParsers: [avro] });

for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(await readFile(file, 'utf8'), { source: file });
  const errors = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
  const channels = {};
  if (document) {
    // The parser checks Avro schemas only in 2.x documents (3.6.6), so check each 3.0 payload here.
    for (const message of document.allMessages()) {
      const payload = message.json().payload;
      if (!payload || !avro.getMimeTypes().includes(payload.schemaFormat)) continue;
      const data = payload['x-parser-original-payload'] ?? payload.schema;
      const path = ['messages', message.id(), 'payload', 'schema'];
      for (const problem of (await avro.validate({ data, path })) ?? []) {
        errors.push(`avro-schema at ${path.join('.')}: ${problem.message}`);
      }
    }
    for (const channel of document.channels()) channels[channel.id()] = channel.address();
  } else if (!errors.length) {
    errors.push('the parser returned no document');
  }
  console.log(JSON.stringify({ file, errors, channels }));
}
