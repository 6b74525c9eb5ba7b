//! Vietnamese name and place material for the synthetic population, with rough real-world
//! frequencies (Nguyễn alone is about 38% of the population).

/// Family names with weights (per thousand).
pub const FAMILY_NAMES: [(&str, u32); 16] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 51),
    ("Huỳnh", 20),
    ("Phan", 45),
    ("Vũ", 39),
    ("Võ", 20),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
];

pub const MALE_MIDDLE: [&str; 10] = [
    "Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Quang", "Xuân", "Gia",
];
pub const FEMALE_MIDDLE: [&str; 10] = [
    "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Hồng", "Phương", "Bảo", "Mai", "Diệu",
];

pub const MALE_GIVEN: [&str; 30] = [
    "An", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
    "Khang", "Khoa", "Kiên", "Lâm", "Long", "Minh", "Nam", "Nghĩa", "Phát", "Phúc", "Quân", "Sơn",
    "Tài", "Thắng", "Thịnh", "Trung", "Tuấn", "Việt",
];

pub const FEMALE_GIVEN: [&str; 30] = [
    "Anh", "Châu", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương",
    "Lan", "Linh", "Loan", "Mai", "My", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quyên", "Tâm",
    "Thảo", "Thủy", "Trang", "Trinh", "Uyên", "Vy",
];

/// Ethnic groups with weights (per thousand), Kinh first.
pub const ETHNICITIES: [(&str, u32); 9] = [
    ("Kinh", 853),
    ("Tày", 19),
    ("Thái", 18),
    ("Mường", 15),
    ("Khmer", 13),
    ("Hoa", 8),
    ("Nùng", 11),
    ("H'Mông", 13),
    ("Dao", 9),
];

/// Religions with weights (per thousand); most people declare none.
pub const RELIGIONS: [(&str, u32); 6] = [
    ("Không", 860),
    ("Phật giáo", 48),
    ("Công giáo", 61),
    ("Cao Đài", 6),
    ("Tin lành", 10),
    ("Phật giáo Hòa Hảo", 15),
];

pub const STREETS: [&str; 16] = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Nguyễn Huệ",
    "Phan Chu Trinh",
    "Hùng Vương",
    "Quang Trung",
    "Lê Duẩn",
    "Võ Thị Sáu",
    "Nguyễn Du",
    "Bà Triệu",
    "Pasteur",
    "Hoàng Diệu",
];

pub const WARDS: [&str; 12] = [
    "Phường 1",
    "Phường 3",
    "Phường Bến Nghé",
    "Phường Tân Định",
    "Phường Hàng Bạc",
    "Phường Cửa Nam",
    "Xã Tân Phú",
    "Xã An Bình",
    "Xã Hòa Thuận",
    "Xã Phước Lộc",
    "Thị trấn Phú Mỹ",
    "Xã Đông Hòa",
];

/// Mobile prefixes of the Vietnamese carriers.
pub const MOBILE_PREFIXES: [&str; 24] = [
    "032", "033", "034", "035", "036", "037", "038", "039", "056", "058", "070", "076", "077",
    "078", "079", "081", "083", "084", "086", "088", "090", "091", "096", "098",
];

/// Health-insurance participant groups (first two letters of a BHYT card number).
pub const INSURANCE_GROUPS: [&str; 8] = ["DN", "HC", "HT", "GD", "HS", "SV", "TE", "HN"];
