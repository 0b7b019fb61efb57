'use strict';
// The formats the event validators check (schemas/ names only date-time): ajv-formats' full
// formats, with date-time remembering the last text it accepted. Every event of a batch carries
// the same `at`, and checking it again (a regular expression and a calendar check) was ~2% of an
// import's CPU. The answer for a text never changes, so remembering it changes no outcome.
const { fullFormats } = require('ajv-formats/dist/formats');

const dateTime = fullFormats['date-time'];
let lastAccepted = null;

exports.fullFormats = {
  ...fullFormats,
  'date-time': {
    ...dateTime,
    validate(text) {
      if (text === lastAccepted) return true;
      const ok = dateTime.validate(text);
      if (ok) lastAccepted = text;
      return ok;
    },
  },
};
