'use strict';
// ClickHouse's HTTP interface in front of chDB (ClickHouse in-process), the part featurepipe's client uses: the
// SQL in the body, or in the query parameter with the body as the INSERT's data; database= as the current
// database and every other parameter as a setting, per request; the answer in the SQL's FORMAT (TabSeparated
// without one); an error as HTTP 500 with ClickHouse's own text. Prints "listening <port>" once it listens.
// Usage: node clickhouse-http.js <data dir> <port, 0 for any>
const fs = require('fs');
const http = require('http');
const path = require('path');
const { Session } = require('chdb');

const [dataDir, port] = process.argv.slice(2);
const data = new Session(dataDir); // holds the data directory open; each request gets a connection of its own
const NOT_SETTINGS = new Set(['query', 'database', 'user', 'password']);
let requests = 0;

function literal(text) {
  return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

function answer(url, body) {
  let sql = url.searchParams.get('query');
  let rows = null;
  if (sql === null) {
    sql = body.toString('utf8');
  } else if (body.length > 0) {
    rows = body;
  }
  const session = new Session(dataDir);
  const file = rows && path.join(dataDir, 'insert-' + (++requests) + '.data');
  try {
    for (const [name, value] of url.searchParams) {
      if (name === 'database') {
        session.query('USE `' + value.replace(/`/g, '') + '`');
      } else if (!NOT_SETTINGS.has(name)) {
        session.query('SET ' + name + ' = ' + literal(value));
      }
    }
    if (rows) {
      const format = /\sFORMAT\s+(\w+)\s*$/i.exec(sql);
      if (!format) {
        throw new Error('Code: 62. an INSERT with data must end in FORMAT <name>: ' + sql);
      }
      fs.writeFileSync(file, rows);
      sql = sql.slice(0, format.index) + ' FROM INFILE ' + literal(file) + ' FORMAT ' + format[1];
    }
    return session.query(sql, 'TabSeparated');
  } finally {
    session.close();
    if (file) {
      fs.rmSync(file, { force: true });
    }
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/ping') {
      res.end('Ok.\n');
      return;
    }
    try {
      const out = answer(url, Buffer.concat(chunks));
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(out);
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(String(e.message).replace(/^Query failed: /, '') + '\n');
    }
  });
});
server.keepAliveTimeout = 60000; // longer than the client keeps an idle connection, so none is closed under it
server.listen(Number(port || 0), '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => server.close(() => data.close()));
