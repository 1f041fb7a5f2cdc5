import PlugboardKit

/// Meetings and the engagement measured in them, frame by frame. The summary is what a model
/// should use; the raw frames are capped and need a narrow window.
@c(plugboard_plugin_v1)
public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
    Plugboard.export(name: "meetings", version: "1.0.0") { plugin in
        plugin.tool("meetings.list") { (arguments: ListMeetings, call) in
            let limit = min(max(arguments.limit ?? 20, 1), 50)
            var sql = "SELECT id, project_id, title, started_at, duration_minutes FROM meetings WHERE id > $1"
            var parameters: [QueryValue] = [.int(try afterID(arguments.cursor))]
            if let project = arguments.projectID {
                parameters.append(.int(project))
                sql += " AND project_id = $\(parameters.count)"
            }
            parameters.append(.int(Int64(limit + 1)))
            sql += " ORDER BY id LIMIT $\(parameters.count)"
            let result = try await call.query(sql, parameters)
            let meetings = result.rows.prefix(limit).map { row in
                Meeting(
                    id: row[0].integer ?? 0, projectID: row[1].integer ?? 0, title: row[2].string ?? "", startedAt: row[3].string ?? "",
                    durationMinutes: row[4].integer ?? 0)
            }
            let next = result.rows.count > limit ? meetings.last.map { "after-\($0.id)" } : nil
            return .structured(MeetingPage(meetings: Array(meetings), nextCursor: next))
        }

        plugin.tool("meetings.summary") { (arguments: SummaryArguments, call) in
            guard arguments.meetingID != nil || arguments.projectID != nil else {
                throw InvalidArguments("give meeting_id or project_id")
            }
            var filters: [String] = []
            var parameters: [QueryValue] = []
            if let meeting = arguments.meetingID {
                parameters.append(.int(meeting))
                filters.append("m.id = $\(parameters.count)")
            }
            if let project = arguments.projectID {
                parameters.append(.int(project))
                filters.append("m.project_id = $\(parameters.count)")
            }
            let result = try await call.query(
                """
                SELECT m.id, m.title, m.started_at, count(f.id), count(DISTINCT f.participant),
                       round(avg(f.attention), 3), round(avg(f.speaking), 3), round(avg(f.sentiment), 3),
                       round(min(f.attention), 3), round(max(f.attention), 3)
                FROM meetings m LEFT JOIN engagement_frames f ON f.meeting_id = m.id
                WHERE \(filters.joined(separator: " AND "))
                GROUP BY m.id, m.title, m.started_at ORDER BY m.id LIMIT 50
                """, parameters)
            guard !result.rows.isEmpty else {
                throw NotFound("no such meeting or project among yours; list_meetings shows them")
            }
            return .structured(
                SummaryPage(
                    meetings: result.rows.map { row in
                        EngagementSummary(
                            meetingID: row[0].integer ?? 0, title: row[1].string ?? "", startedAt: row[2].string ?? "", frames: row[3].integer ?? 0,
                            participants: row[4].integer ?? 0, averageAttention: row[5].number, speakingShare: row[6].number,
                            averageSentiment: row[7].number, lowestAttention: row[8].number, highestAttention: row[9].number)
                    }))
        }

        plugin.tool("meetings.frames") { (arguments: FramesArguments, call) in
            guard arguments.toSecond > arguments.fromSecond else { throw InvalidArguments("to_second must be after from_second") }
            let limit = min(max(arguments.limit ?? 100, 1), 300)
            let result = try await call.query(
                """
                SELECT at_second, participant, attention, speaking, sentiment FROM engagement_frames
                WHERE meeting_id = $1 AND at_second >= $2 AND at_second < $3 ORDER BY at_second, participant LIMIT $4
                """, [.int(arguments.meetingID), .int(arguments.fromSecond), .int(arguments.toSecond), .int(Int64(limit + 1))])
            let frames = result.rows.prefix(limit).map { row in
                Frame(
                    atSecond: row[0].integer ?? 0, participant: row[1].string ?? "", attention: row[2].number ?? 0,
                    speaking: (row[3].integer ?? 0) != 0, sentiment: row[4].number ?? 0)
            }
            var page = FramePage(frames: Array(frames), more: nil)
            if result.rows.count > limit || result.truncated {
                // The row after the last one shown says where the next window starts.
                let resume = result.rows.count > limit ? (result.rows[limit][0].integer ?? arguments.fromSecond) : arguments.fromSecond
                page.more =
                    "Only the first \(limit) frames are shown. Narrow the window (from_second \(resume) continues it), "
                    + "or use get_engagement_summary for the whole meeting."
            }
            return .structured(page)
        }
    }
}

func afterID(_ cursor: String?) throws -> Int64 {
    guard let cursor else { return 0 }
    guard cursor.hasPrefix("after-"), let id = Int64(cursor.dropFirst(6)) else {
        throw InvalidArguments("cursor '\(cursor)' is not one this tool returned; leave it out for the first page")
    }
    return id
}

struct ListMeetings: Decodable, Sendable {
    let projectID: Int64?
    let limit: Int?
    let cursor: String?
    enum CodingKeys: String, CodingKey {
        case projectID = "project_id"
        case limit, cursor
    }
}

struct Meeting: Encodable {
    let id: Int64
    let projectID: Int64
    let title: String
    let startedAt: String
    let durationMinutes: Int64
    enum CodingKeys: String, CodingKey {
        case id, title
        case projectID = "project_id"
        case startedAt = "started_at"
        case durationMinutes = "duration_minutes"
    }
}

struct MeetingPage: Encodable {
    let meetings: [Meeting]
    let nextCursor: String?
    enum CodingKeys: String, CodingKey {
        case meetings
        case nextCursor = "next_cursor"
    }
}

struct SummaryArguments: Decodable, Sendable {
    let meetingID: Int64?
    let projectID: Int64?
    enum CodingKeys: String, CodingKey {
        case meetingID = "meeting_id"
        case projectID = "project_id"
    }
}

struct EngagementSummary: Encodable {
    let meetingID: Int64
    let title: String
    let startedAt: String
    let frames: Int64
    let participants: Int64
    let averageAttention: Double?
    let speakingShare: Double?
    let averageSentiment: Double?
    let lowestAttention: Double?
    let highestAttention: Double?
    enum CodingKeys: String, CodingKey {
        case title, frames, participants
        case meetingID = "meeting_id"
        case startedAt = "started_at"
        case averageAttention = "average_attention"
        case speakingShare = "speaking_share"
        case averageSentiment = "average_sentiment"
        case lowestAttention = "lowest_attention"
        case highestAttention = "highest_attention"
    }
}

struct SummaryPage: Encodable {
    let meetings: [EngagementSummary]
}

struct FramesArguments: Decodable, Sendable {
    let meetingID: Int64
    let fromSecond: Int64
    let toSecond: Int64
    let limit: Int?
    enum CodingKeys: String, CodingKey {
        case meetingID = "meeting_id"
        case fromSecond = "from_second"
        case toSecond = "to_second"
        case limit
    }
}

struct Frame: Encodable {
    let atSecond: Int64
    let participant: String
    let attention: Double
    let speaking: Bool
    let sentiment: Double
    enum CodingKeys: String, CodingKey {
        case participant, attention, speaking, sentiment
        case atSecond = "at_second"
    }
}

struct FramePage: Encodable {
    let frames: [Frame]
    /// Set when frames were left out, saying how to get them.
    var more: String?
}
