// Dates and times in the user's language, with the CLDR patterns the server takes from
// Babel (liaison/web/i18n.py date_formats), in the users' time zone (LIAISON_TIME_ZONE).
const formats = JSON.parse(document.getElementById("formats")?.textContent || "{}");
const zone = formats.time_zone || "Europe/Helsinki";

let partsFormat;
try {
  partsFormat = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric", weekday: "short",
  });
} catch (e) {
  partsFormat = new Intl.DateTimeFormat("en-US", {
    hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric", weekday: "short",
  });
}
const WEEKDAY = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

// The wall-clock fields of a moment in the users' time zone.
export function fields(date) {
  const out = {};
  for (const part of partsFormat.formatToParts(date)) out[part.type] = part.value;
  return {
    year: Number(out.year), month: Number(out.month), day: Number(out.day),
    hour: Number(out.hour) % 24, minute: Number(out.minute), second: Number(out.second),
    weekday: WEEKDAY[out.weekday] ?? 0,
  };
}

const pad = (n, width) => String(n).padStart(width, "0");

// A CLDR pattern ("d.M.y", "H.mm", "E d.M.") applied to the fields; 'quoted' text as is.
function apply(pattern, f) {
  let out = "";
  const re = /'([^']*)'|([a-zA-Z])\2*/g;
  let last = 0;
  for (const match of pattern.matchAll(re)) {
    out += pattern.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[1] !== undefined) {
      out += match[1] === "" ? "'" : match[1];
      continue;
    }
    const token = match[0];
    const n = token.length;
    switch (token[0]) {
      case "y": out += n === 2 ? pad(f.year % 100, 2) : String(f.year); break;
      case "M": case "L": out += n >= 3 ? formats.months[f.month - 1] : pad(f.month, n); break;
      case "d": out += pad(f.day, n); break;
      case "E": case "c": case "e": out += n >= 4 ? formats.weekdays_wide[f.weekday] : formats.weekdays[f.weekday]; break;
      case "H": out += pad(f.hour, n); break;
      case "h": out += pad(((f.hour + 11) % 12) + 1, n); break;
      case "m": out += pad(f.minute, n); break;
      case "s": out += pad(f.second, n); break;
      case "a": out += formats.am_pm[f.hour < 12 ? 0 : 1]; break;
      default: out += token;
    }
  }
  return out + pattern.slice(last);
}

const toDate = (value) => (value instanceof Date ? value : new Date(value));

export function time(value) {
  return apply(formats.time, fields(toDate(value)));
}

export function timeWithSeconds(value) {
  return apply(formats.time_seconds, fields(toDate(value)));
}

export function date(value) {
  return apply(formats.date, fields(toDate(value)));
}

// A calendar date "YYYY-MM-DD" (out of office, say): no time zone to convert.
export function calendarDate(iso) {
  const [year, month, day] = iso.split("-").map(Number);
  const weekday = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
  return apply(formats.date, { year, month, day, hour: 12, minute: 0, second: 0, weekday });
}

export function dayMonth(value) {
  return apply(formats.day_month, fields(toDate(value)));
}

export function weekdayDayMonth(value) {
  return apply(formats.weekday_day_month, fields(toDate(value)));
}

export function dateTime(value) {
  const f = fields(toDate(value));
  return formats.date_time.replace("{1}", apply(formats.date, f)).replace("{0}", apply(formats.time, f));
}

// Today: the time only; otherwise the date and the time.
export function when(value) {
  const d = toDate(value);
  const f = fields(d);
  const today = fields(new Date());
  const sameDay = f.year === today.year && f.month === today.month && f.day === today.day;
  return sameDay ? apply(formats.time, f) : dateTime(d);
}

export function weekdayName(index) {
  return formats.weekdays_wide?.[index] || "";
}

// The current local day (0 = Monday) and "HH:MM", for phone hours.
export function localNow() {
  const f = fields(new Date());
  return { weekday: f.weekday, hm: `${pad(f.hour, 2)}:${pad(f.minute, 2)}` };
}

export const timeZone = zone;
export const locale = formats.locale || "fi_FI";
